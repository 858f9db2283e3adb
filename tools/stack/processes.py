"""Detached process groups that outlive the command that started them, and their shutdown.

Each process is started in a new session (``setsid``), so it is the leader of its own process
group: stopping the group also stops what it forked (gunicorn and Celery children). A process is
recorded with its start time, so a pid reused after a reboot is never mistaken for ours.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class RunningProcess:
    name: str
    pid: int
    started_at: float
    stop_signal: int = signal.SIGTERM

    def is_alive(self) -> bool:
        """The recorded process (not a later one with its pid) exists and is not a zombie."""
        try:
            process = psutil.Process(self.pid)
            return (
                abs(process.create_time() - self.started_at) < 1
                and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.NoSuchProcess:
            return False

    def group_members(self) -> list[psutil.Process]:
        """Live processes of this process group (the leader and everything it forked)."""
        members = []
        for process in psutil.process_iter(["pid", "status"]):
            try:
                if (
                    os.getpgid(process.pid) == self.pid
                    and process.info["status"] != psutil.STATUS_ZOMBIE
                ):
                    members.append(process)
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
        return members

    def stop(self, timeout: float) -> None:
        """Signal the group, wait for it to exit, then kill whatever is left."""
        if not self.is_alive() and not self.group_members():
            return
        _signal_group(self.pid, self.stop_signal)
        if not wait_until(lambda: not self.group_members(), timeout):
            _signal_group(self.pid, signal.SIGKILL)
            wait_until(lambda: not self.group_members(), 5)

    def to_json(self) -> dict:
        return asdict(self)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def start_detached(
    name: str,
    command: Sequence[object],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> RunningProcess:
    """Start ``command`` in its own session, output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - commands are built by this package
            [str(part) for part in command],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    return RunningProcess(
        name=name,
        pid=process.pid,
        started_at=psutil.Process(process.pid).create_time(),
        stop_signal=stop_signal,
    )


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_ports(count: int, start: int, taken: set[int] | None = None) -> list[int]:
    """``count`` bindable ports from ``start`` upward, below the busy ephemeral range."""
    ports: list[int] = []
    candidate = start
    while len(ports) < count:
        if candidate >= 32768:
            raise RuntimeError("no free port below the ephemeral range")
        if candidate not in (taken or set()) and port_is_free(candidate):
            ports.append(candidate)
        candidate += 1
    return ports
