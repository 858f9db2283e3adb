"""What the chart and the app define, read from their sources, for the drift tests.

The chart is the reference for how Bazaar runs: its worker pools (``workers:`` in values.yaml)
and the environment keys its templates give Bazaar containers. The app is the reference for
which roles exist (the launcher's parser) and which environment keys are read at all.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "bazaar"
APP = ROOT / "app"
# Templates of the containers that run the Bazaar image (PgBouncer and the data stores are not).
BAZAAR_TEMPLATE_DIRS = ("web", "workers", "beat", "exporter", "migrations")

_ENV_NAME = re.compile(r"-\s+name:\s+([A-Z][A-Z0-9_]*)\s*$", re.MULTILINE)
_RANGE_LIST = re.compile(r"range\s+list\s+((?:\"[A-Z0-9_]+\"\s*)+)")
_ENV_READ = re.compile(
    r"""(?:env\.\w+|environ\.get|environ\.setdefault|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)


def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def chart_worker_pools() -> list[dict]:
    """The default pools as ``{"name", "queues", "concurrency"}``, in the chart's order."""
    return [
        {"name": p["name"], "queues": list(p["queues"]), "concurrency": p["concurrency"]}
        for p in chart_values()["workers"]
    ]


def chart_env_keys() -> set[str]:
    """Every environment key the chart's templates give a container running the Bazaar image."""
    templates = [CHART / "templates" / "_helpers.tpl"]
    for folder in BAZAAR_TEMPLATE_DIRS:
        templates += sorted((CHART / "templates" / folder).glob("*.yaml"))
    keys: set[str] = set()
    for template in templates:
        text = template.read_text()
        keys.update(_ENV_NAME.findall(text))
        for names in _RANGE_LIST.findall(text):
            keys.update(re.findall(r'"([A-Z0-9_]+)"', names))
    return keys


def app_env_keys() -> set[str]:
    """Every environment key the settings, gunicorn config, launcher or simulator read."""
    sources = [*(APP / "config").rglob("*.py"), *(APP / "bazaar").rglob("*.py")]
    keys: set[str] = set()
    for source in sources:
        if "tests" in source.parts:
            continue
        for match in _ENV_READ.finditer(source.read_text()):
            keys.add(match[1] or match[2])
    return keys


def launcher_accepts(argv: list[str]) -> bool:
    """Whether ``bazaar ARGV...`` names a role the launcher has, with arguments it takes."""
    from bazaar.launcher import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True
