"""The ``stack`` fixture: ``make stack`` brought up once per session, for any suite to use.

Load it with ``-p tests.plugins.stack`` (or import the fixture). The fixture runs
``python -m tools.stack up`` (which returns once everything is healthy), yields a
``RunningStack`` with the URLs, ports and maildir from ``.stack/state.json``, and runs
``down`` at the end of the session, unless the stack was already running before the session,
in which case it is left as it was found.
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

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_FILE = REPO_ROOT / ".stack" / "state.json"
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
    """What ``.stack/state.json`` records about the running stack."""

    @property
    def state(self) -> dict:
        return json.loads(STATE_FILE.read_text())

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
