"""Command line of the cluster runner: ``python -m tools.cluster COMMAND`` (see --help)."""

import argparse
import subprocess
import sys

import yaml

from tools.cluster import build, crds
from tools.cluster.runner import Cluster, ClusterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build what is missing, start the cluster (or confirm it runs)")
    commands.add_parser("down", help="stop the cluster and remove everything it made")
    commands.add_parser("status", help="print each process and whether the API server is ready")
    commands.add_parser("build", help="only build the binaries and images (cached)")
    commands.add_parser("crds", help="install the add-ons' CRDs from their pinned Go modules")
    commands.add_parser("reclaim", help="empty the local volumes whose claim is gone, for reuse")
    load = commands.add_parser("load", help="import images from the Docker engine (docker save)")
    load.add_argument("images", nargs="+", help="image references, e.g. bazaar:dev")
    args = parser.parse_args(argv)

    cluster = Cluster()
    try:
        if args.command == "up":
            cluster.up()
        elif args.command == "down":
            cluster.down()
        elif args.command == "status":
            return 0 if cluster.print_status() else 1
        elif args.command == "load":
            cluster.load_docker_images(args.images)
        elif args.command == "build":
            build.build_all()
        elif args.command == "reclaim":
            print("reclaimed:", " ".join(cluster.reclaim_volumes()) or "nothing")
        else:
            cluster.kubectl("apply", "--server-side", "-f", "-",
                            input_text=yaml.safe_dump_all(crds.definitions()))  # fmt: skip
    except (ClusterError, subprocess.CalledProcessError) as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
