"""``make bench``: ``python -m loadtests.bench [--quick] [--no-readme]``."""

import argparse
import sys

from loadtests.bench.suite import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every benchmark once, briefly")
    parser.add_argument(
        "--no-readme", action="store_true", help="do not update the table in loadtests/README.md"
    )
    args = parser.parse_args(argv)
    # A quick run is a smoke test of the suite, not figures worth publishing.
    run(quick=args.quick, update_readme_table=not (args.quick or args.no_readme))
    return 0


if __name__ == "__main__":
    sys.exit(main())
