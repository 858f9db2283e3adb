"""Command line of the stack runner: ``python -m tools.stack up|down|logs|status``."""

import argparse
import sys

from tools.stack.runner import Stack, StackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the stack (or confirm it runs) and print its URLs")
    commands.add_parser("down", help="stop every process of the stack")
    commands.add_parser("status", help="print each process and whether it is alive")
    logs = commands.add_parser("logs", help="print the tail of the logs")
    logs.add_argument("names", nargs="*", help="process names (default: all)")
    logs.add_argument("--lines", type=int, default=40)
    args = parser.parse_args(argv)

    stack = Stack()
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
