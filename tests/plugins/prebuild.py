"""Start ``python -m tools.prebuild`` in the background when the session will run the cluster
or image suites, so a cold machine builds their Go programs while the app tests run.

The build is niced and holds a lock per program; the fixtures that need a program take the same
lock, so they wait for it instead of building it twice. Its output goes to
``.cache/prebuild.log``. A session that ends first stops it (the next one resumes from Go's
build cache). ``BAZAAR_PREBUILD=0`` turns it off.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES = (REPO_ROOT / "tests" / "cluster", REPO_ROOT / "tests" / "container")
LOG = REPO_ROOT / ".cache" / "prebuild.log"
_builder = pytest.StashKey[subprocess.Popen]()


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if os.environ.get("BAZAAR_PREBUILD") == "0" or config.option.collectonly:
        return
    if hasattr(config, "workerinput"):  # an xdist worker: its controller decides
        return
    paths = {Path(item.path) for item in session.items}
    if not any(path.is_relative_to(suite) for path in paths for suite in SUITES):
        return
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("ab") as log:
        config.stash[_builder] = subprocess.Popen(
            [sys.executable, "-m", "tools.prebuild"],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    builder = config.stash.get(_builder, None)
    if builder is not None and builder.poll() is None:
        os.killpg(builder.pid, signal.SIGTERM)  # the go build processes with it
        builder.wait(30)
