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
_ENV_READ = re.compile(
    r"""(?:env\.\w+|environ\.get|environ\.setdefault|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)


def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def chart_worker_pools() -> list[dict]:
    """The default pools as ``{"name", "queues", "concurrency"}`` over ``workerDefaults``."""
    values = chart_values()
    pools = []
    for overrides in values["workers"]:
        pool = {**values.get("workerDefaults", {}), **overrides}
        queues = list(pool.get("queues") or [pool["name"]])
        pools.append({"name": pool["name"], "queues": queues, "concurrency": pool["concurrency"]})
    return pools


def chart_env_keys_by_role() -> dict[str, set[str]]:
    """Environment keys of each launcher role the chart runs, over every CI values scenario.

    Rendered by the real Helm engine (tests/chart/helm.py); a role is the first argument the
    chart passes to the ``bazaar`` command (init containers included, e.g. ``migrate``).
    """
    from tests.chart.helm import render, scenario_files

    keys: dict[str, set[str]] = {}
    for scenario in scenario_files():
        for container in _containers(render([scenario])):
            if container.get("command") == ["bazaar"]:
                role = container["args"][0]
                keys.setdefault(role, set()).update(e["name"] for e in container.get("env", []))
    return keys


def _containers(objects: list[dict]):
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "Pod":
            pod = spec
        elif obj["kind"] == "CronJob":
            pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        else:
            pod = spec.get("template", {}).get("spec")
        if pod:
            yield from pod.get("initContainers", [])
            yield from pod.get("containers", [])


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
