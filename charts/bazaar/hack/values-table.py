#!/usr/bin/env python3
"""Write the values table of README.md from values.schema.json and values.yaml.

The schema's descriptions are the one place values are documented; this script renders them,
with each default from values.yaml, between the values-table markers of README.md. `--check`
(run by tests/chart) fails when README.md is not what the script would write.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

CHART_DIR = Path(__file__).resolve().parents[1]
README = CHART_DIR / "README.md"
START = "<!-- values-table:start -->"
END = "<!-- values-table:end -->"


def resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its $ref followed (its own description wins)."""
    if "$ref" not in node:
        return node
    target = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def type_of(node: dict[str, Any]) -> str:
    kind = node.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if "enum" in node:
        return " \\| ".join(f"`{value}`" for value in node["enum"])
    return kind


def default_at(values: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


def format_default(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, separators=(", ", ": "))
    return f"`{text}`" if len(text) <= 60 else "see values.yaml"


def rows(
    node: dict[str, Any], schema: dict[str, Any], values: Any, path: list[str]
) -> list[tuple[str, str, str, str]]:
    node = resolve(node, schema)
    properties = node.get("properties")
    if node.get("type") == "array" and "properties" in resolve(node.get("items", {}), schema):
        item = resolve(node["items"], schema)
        found = [
            (
                ".".join(path),
                "list",
                format_default(default_at(values, path)),
                node.get("description", ""),
            )
        ]
        for key, child in item["properties"].items():
            found += rows(child, schema, None, [*path[:-1], f"{path[-1]}[].{key}"]) if path else []
        return found
    if not properties:
        return [
            (
                ".".join(path),
                type_of(node),
                format_default(default_at(values, path)),
                node.get("description", ""),
            )
        ]
    found = []
    for key, child in properties.items():
        found += rows(child, schema, values, [*path, key])
    return found


def table() -> str:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, kind, default, description in rows(schema, schema, values, []):
        lines.append(f"| `{key}` | {kind} | {default} | {description} |")
    return "\n".join(lines)


def rendered_readme() -> str:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is stale")
    args = parser.parse_args()
    expected = rendered_readme()
    if args.check:
        if README.read_text() != expected:
            print("README.md values table is stale: run `make chart-docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
