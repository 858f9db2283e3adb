"""``tools.locks.exclusive_lock``, the lock of ``make stack``, ``make cluster``, the Docker
engine and the Go builds: one holder at a time across processes, freed when the holder dies."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading

import pytest

from tools.locks import exclusive_lock

HOLDER = """
import sys
from pathlib import Path
from tools.locks import exclusive_lock
with exclusive_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_holder_waits_until_a_killed_first_one_is_gone(tmp_path):
    path = tmp_path / "not-yet" / "state.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        with path.open("w") as handle, pytest.raises(BlockingIOError):
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

        acquired = threading.Event()

        def second() -> None:
            with exclusive_lock(path):
                acquired.set()

        waiter = threading.Thread(target=second, daemon=True)
        waiter.start()
        assert not acquired.wait(0.5), "taken while the first holder had it"
        holder.kill()
        assert acquired.wait(10), "not freed when its holder died"
    finally:
        holder.kill()
        holder.wait()
