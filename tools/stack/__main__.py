"""Command line of the stack runner: ``python -m tools.stack up|down|logs|status``."""

import argparse
import sys
from pathlib import Path

from tools.stack.runner import (
    LOAD_BALANCER_PORT,
    PROMETHEUS_PORT,
    STATE_DIR,
    Stack,
    StackError,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack", description=__doc__)
    parser.add_argument(
        "--state-dir", type=Path, default=STATE_DIR, help="state and logs (default: .stack/)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the stack (or confirm it runs) and print its URLs")
    up.add_argument(
        "--slices",
        action="store_true",
        help="one web process per web slice (catalog, checkout, accounts), routed by path",
    )
    up.add_argument("--port", type=int, default=LOAD_BALANCER_PORT, help="load balancer port")
    up.add_argument("--prometheus-port", type=int, default=PROMETHEUS_PORT)
    commands.add_parser("down", help="stop every process of the stack")
    commands.add_parser("status", help="print each process and whether it is alive")
    logs = commands.add_parser("logs", help="print the tail of the logs")
    logs.add_argument("names", nargs="*", help="process names (default: all)")
    logs.add_argument("--lines", type=int, default=40)
    args = parser.parse_args(argv)

    if args.command == "up":
        stack = Stack(
            args.state_dir,
            slices=args.slices,
            load_balancer_port=args.port,
            prometheus_port=args.prometheus_port,
        )
    else:
        stack = Stack(args.state_dir)
    try:
        if args.command == "up":
            stack.up()
        elif args.command == "down":
            stack.down()
        elif args.command == "status":
            return 0 if stack.print_status() else 1
        else:
            stack.print_logs(args.names, lines=args.lines)
    except StackError as error:
        print(f"stack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
