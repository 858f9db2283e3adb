"""Start, watch and stop the real processes the test services are made of.

``ManagedProcess`` runs one command in its own process group with its output in a log file,
waits until it is ready (a TCP port accepts, an HTTP URL answers 200 or a file appears) and
stops, kills, pauses or resumes it. Nothing it starts outlives the test session: every group
still running at interpreter exit is killed.

``free_port()`` hands out a free TCP port on 127.0.0.1 between 20000 and 32767, below the
ephemeral range (32768-60999) that is busy on the CI machines. A port handed out is held under an
``flock`` for the life of this process, so neither this session nor a concurrent one (other
xdist workers, other checkouts) is given it again while its server is still starting.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

FIRST_PORT = 20000
EPHEMERAL_PORTS_START = 32768
# Fixed, not TMPDIR-relative: every session on the machine must see the same locks.
PORT_LOCK_DIR = Path("/tmp/bazaar-test-ports")

_held_port_locks: dict[int, IO[bytes]] = {}
_port_lock = threading.Lock()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now and not handed out to anyone else."""
    PORT_LOCK_DIR.mkdir(mode=0o777, exist_ok=True)
    # Sessions start probing at different points of the range (by pid) so that concurrent
    # sessions, and other tools that take the lowest free port, rarely race for one port.
    first = FIRST_PORT + (os.getpid() % 100) * 100
    candidates = [*range(first, EPHEMERAL_PORTS_START), *range(FIRST_PORT, first)]
    with _port_lock:
        for port in candidates:
            if port in _held_port_locks:
                continue
            lock_file = (PORT_LOCK_DIR / str(port)).open("ab")
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.close()
                continue
            if _port_is_bindable(port):
                _held_port_locks[port] = lock_file
                return port
            lock_file.close()
    raise RuntimeError(f"no free TCP port between {FIRST_PORT} and {EPHEMERAL_PORTS_START - 1}")


def _port_is_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def url_answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local test URL
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class ProcessStartError(RuntimeError):
    """A managed process exited or did not become ready before its deadline."""


class ManagedProcess:
    """One long-running command, started in its own process group.

    One of ``ready_port``, ``ready_url``, ``ready_file`` or ``ready_check`` (a callable that
    returns True once the service answers) says when the process is ready; without any of them
    it is ready as soon as it has been spawned. ``stop_signal`` is
    what asks it to shut down cleanly (Postgres wants SIGINT, its "fast" shutdown, because the
    SIGTERM "smart" shutdown waits for PgBouncer's connections to go away).
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        ready_port: int | None = None,
        ready_url: str | None = None,
        ready_file: Path | None = None,
        ready_check: Callable[[], bool] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.command = [str(part) for part in command]
        self.log_path = Path(log_dir) / f"{name}.log"
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.user = user
        self.ready_port = ready_port
        self.ready_url = ready_url
        self.ready_file = ready_file
        self.ready_check = ready_check
        self.stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._run_log_offset = 0

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} returncode={self.returncode}>"

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        """None while running (or never started), else the exit status (negative: signal)."""
        return self._popen.poll() if self._popen else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self, timeout: float = 30) -> ManagedProcess:
        """Spawn the command and wait until it is ready; raise ``ProcessStartError`` if not."""
        self.spawn()
        self.wait_ready(timeout)
        return self

    def spawn(self) -> ManagedProcess:
        """Spawn the command without waiting, so several services can boot side by side."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} start: {' '.join(self.command)}\n".encode())
            log.flush()
            self._run_log_offset = log.tell()
            try:
                self._popen = subprocess.Popen(
                    self.command,
                    env=self.env,
                    cwd=self.cwd,
                    user=self.user,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                raise ProcessStartError(f"{self.name} could not be started: {error}") from error
        self._paused = False
        _live_processes.add(self)
        return self

    def is_ready(self) -> bool:
        if self.ready_port is not None:
            return port_accepts(self.ready_port)
        if self.ready_url is not None:
            return url_answers_ok(self.ready_url)
        if self.ready_file is not None:
            return self.ready_file.exists()
        if self.ready_check is not None:
            return self.ready_check()
        return True

    def wait_ready(self, timeout: float) -> None:
        """Wait until ready; on exit or timeout kill the process and raise with its log tail."""
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            if not self.running:
                self.kill()
                raise ProcessStartError(self._failure(f"exited with status {self.returncode}"))
            if time.monotonic() > deadline:
                self.kill()
                raise ProcessStartError(self._failure(f"was not ready after {timeout:g}s"))
            time.sleep(0.05)

    def _failure(self, what: str) -> str:
        if self.ready_port is not None:
            awaited = f"port {self.ready_port}"
        elif self.ready_check is not None:
            awaited = self.ready_check.__name__
        else:
            awaited = self.ready_url or str(self.ready_file)
        return (
            f"{self.name} {what} (waiting for {awaited}).\n"
            f"command: {' '.join(self.command)}\n"
            f"log: {self.log_path}\n--- last lines ---\n{self.log_tail()}"
        )

    def output_of_last_run(self) -> str:
        """What the process wrote since it was last spawned."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._run_log_offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        try:
            with self.log_path.open(errors="replace") as log:
                return "".join(deque(log, maxlen=lines))
        except FileNotFoundError:
            return "(no log written)"

    def stop(self, timeout: float = 10) -> int | None:
        """Ask the process to exit with ``stop_signal``; SIGKILL its group after ``timeout``."""
        if not self.running:
            return self.returncode
        self._signal_leader(self.stop_signal)
        if self._paused:
            self.resume()
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._popen.wait()
        self._reap_group()
        return self.returncode

    def kill(self) -> int | None:
        """SIGKILL the whole group at once: a crash, not a shutdown."""
        if self._popen is None:
            return None
        self._signal_group(signal.SIGKILL)
        self._popen.wait()
        self._reap_group()
        return self.returncode

    def pause(self) -> None:
        """SIGSTOP the group: the process keeps its sockets open but answers nothing."""
        self._signal_group(signal.SIGSTOP)
        self._paused = True
        # Signals are delivered asynchronously; callers expect a frozen process on return.
        self._wait_for_state(stopped=True)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)
        self._paused = False
        self._wait_for_state(stopped=False)

    def _wait_for_state(self, *, stopped: bool, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        leader = psutil.Process(self.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            while (leader.status() == psutil.STATUS_STOPPED) != stopped:
                if time.monotonic() > deadline:
                    state = "stop" if stopped else "continue"
                    raise RuntimeError(f"{self.name} did not {state} within {timeout:g}s")
                time.sleep(0.01)

    def _signal_leader(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._popen.send_signal(signum)

    def _signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    def _reap_group(self) -> None:
        # Children the leader left behind (forked pool workers, backends) die with it.
        self._signal_group(signal.SIGKILL)
        _live_processes.discard(self)


_live_processes: set[ManagedProcess] = set()


@atexit.register
def _kill_leftover_processes() -> None:
    for process in list(_live_processes):
        process.kill()
