"""``python -m tools.image engine up|down|status``, ``build [--tag T]``, ``twins``, ``compose``.

``make image-local`` runs ``engine up`` then ``build``: the committed Dockerfile built on local
twins of its base images by a private Docker engine, for a machine without an image registry.
"""

import argparse
import sys

from tools.image import build
from tools.image.build import ImageBuildError
from tools.image.engine import Engine, EngineError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.image", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    engine_parser = commands.add_parser("engine", help="the private Docker engine")
    engine_parser.add_argument("action", choices=["up", "down", "status"])
    build_parser = commands.add_parser("build", help="the app image on the local twins")
    build_parser.add_argument("--tag", default="local")
    build_parser.add_argument("--target", default="runtime", choices=["runtime", "dev"])
    commands.add_parser("twins", help="every local twin of an upstream image")
    commands.add_parser("compose", help="build Docker Compose and print its path")
    args = parser.parse_args(argv)

    engine = Engine()
    try:
        if args.command == "engine":
            if args.action == "status":
                return 0 if engine.print_status() else 1
            getattr(engine, args.action)()
        elif args.command == "build":
            engine.up()
            image = build.app_image(engine, args.tag, target=args.target)
            print(f"Built {image.reference} in {image.seconds:.0f} s (log: {image.log_path}).")
            print(f"  export DOCKER_HOST={engine.env['DOCKER_HOST']}")
        elif args.command == "twins":
            engine.up()
            for target, reference in build.twins(engine).items():
                print(f"{target}: {reference}")
        else:
            print(build.compose_binary())
    except (EngineError, ImageBuildError) as error:
        print(f"image: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
