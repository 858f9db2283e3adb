#!/usr/bin/env python3
"""Copy the alert rules and dashboards of observability/ into the chart (make chart-sync).

Helm reads no file outside the chart, so the chart ships a copy under files/observability/.
observability/ stays the one source of truth: this script writes the copy, and
`--check` (run by tests/chart) fails when the copy has drifted from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHART_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = CHART_DIR.parents[1]
SOURCE_DIR = REPO_ROOT / "observability"
COPY_DIR = CHART_DIR / "files" / "observability"
SYNCED_PATTERNS = ("prometheus/rules/*.yaml", "grafana/dashboards/*.json")


def expected_files() -> dict[Path, bytes]:
    """Relative path -> content of every file the chart's copy must hold."""
    return {
        path.relative_to(SOURCE_DIR): path.read_bytes()
        for pattern in SYNCED_PATTERNS
        for path in sorted(SOURCE_DIR.glob(pattern))
    }


def current_files() -> dict[Path, bytes]:
    return {
        path.relative_to(COPY_DIR): path.read_bytes()
        for pattern in SYNCED_PATTERNS
        for path in sorted(COPY_DIR.glob(pattern))
    }


def drift() -> list[str]:
    """Human-readable differences between observability/ and the chart's copy."""
    expected, current = expected_files(), current_files()
    problems = [f"missing in chart: {path}" for path in sorted(expected.keys() - current.keys())]
    problems += [f"stale in chart: {path}" for path in sorted(current.keys() - expected.keys())]
    problems += [
        f"differs: {path}"
        for path in sorted(expected.keys() & current.keys())
        if expected[path] != current[path]
    ]
    return problems


def sync() -> None:
    expected = expected_files()
    for path in current_files().keys() - expected.keys():
        (COPY_DIR / path).unlink()
    for path, content in expected.items():
        target = COPY_DIR / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift, change nothing")
    args = parser.parse_args()
    if args.check:
        problems = drift()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `make chart-sync`", file=sys.stderr)
        return 1 if problems else 0
    sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
