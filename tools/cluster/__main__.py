"""Command line of the cluster runner: ``python -m tools.cluster up|down|status|build``."""

import argparse
import subprocess
import sys

from tools.cluster import build
from tools.cluster.runner import Cluster, ClusterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build what is missing, start the cluster (or confirm it runs)")
    commands.add_parser("down", help="stop the cluster and remove everything it made")
    commands.add_parser("status", help="print each process and whether the API server is ready")
    commands.add_parser("build", help="only build the binaries and images (cached)")
    args = parser.parse_args(argv)

    cluster = Cluster()
    try:
        if args.command == "up":
            cluster.up()
        elif args.command == "down":
            cluster.down()
        elif args.command == "status":
            return 0 if cluster.print_status() else 1
        else:
            build.build_all()
    except (ClusterError, subprocess.CalledProcessError) as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
