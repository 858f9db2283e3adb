"""The ``stack`` fixture: ``make stack`` brought up once per session, for any suite to use.

Load it with ``-p tests.plugins.stack`` (or import the fixture). The fixture runs
``python -m tools.stack up`` (which returns once everything is healthy), yields a
``RunningStack`` with the URLs, ports and maildir from ``.stack/state.json``, and runs
``down`` at the end of the session, unless the stack was already running before the session,
in which case it is left as it was found. ``sliced_stack`` is the same with one web process per
web slice (``make stack SLICES=1``), in ``.stack/sliced/`` on free ports.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.plugins.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_FILE = REPO_ROOT / ".stack" / "state.json"
# Inside the checkout like .stack itself: Postgres runs as its own account and must reach it.
SLICED_STATE_DIR = REPO_ROOT / ".stack" / "sliced"
UP_TIMEOUT = 900


def run_stack_command(*arguments: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess:
    """``python -m tools.stack ARGS`` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tools.stack", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class RunningStack:
    """What ``.stack/state.json`` (or another state folder's) records about the running stack."""

    def __init__(self, state_dir: Path = STATE_FILE.parent) -> None:
        self.state_file = state_dir / "state.json"

    @property
    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    @property
    def shop_url(self) -> str:
        """The load balancer, e.g. ``http://127.0.0.1:8080/``."""
        return self.state["urls"]["shop"]

    @property
    def prometheus_url(self) -> str:
        return self.state["urls"]["prometheus"]

    @property
    def web_urls(self) -> list[str]:
        """Each web process directly, bypassing the load balancer."""
        return self.state["urls"]["web"]

    @property
    def ports(self) -> dict[str, int]:
        return self.state["ports"]

    @property
    def admin(self) -> dict[str, str]:
        return self.state["admin"]

    def messages(self) -> list[EmailMessage]:
        """Every email the SMTP sink accepted so far."""
        maildir = mailbox.Maildir(self.state["maildir"], create=False)
        return [
            email.message_from_bytes(maildir.get_bytes(key), policy=email.policy.default)
            for key in maildir.iterkeys()
        ]


@pytest.fixture(scope="session")
def sliced_stack() -> Iterator[RunningStack]:
    """``make stack SLICES=1`` (one web process per web slice, routed by path) in its own state
    folder and on free public ports, so it runs beside the ``stack`` fixture's; down at the end."""
    where = ("--state-dir", str(SLICED_STATE_DIR))
    ports = ("--port", str(free_port()), "--prometheus-port", str(free_port()))
    result = run_stack_command(*where, "up", "--slices", *ports)
    if result.returncode != 0:
        pytest.fail(f"make stack SLICES=1 failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    try:
        yield RunningStack(SLICED_STATE_DIR)
    finally:
        run_stack_command(*where, "down", timeout=300)


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    already_running = (
        STATE_FILE.exists() and run_stack_command("status", timeout=60).returncode == 0
    )
    result = run_stack_command("up")
    if result.returncode != 0:
        pytest.fail(f"make stack failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    try:
        yield RunningStack()
    finally:
        if not already_running:
            run_stack_command("down", timeout=300)
