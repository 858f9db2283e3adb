"""``make image-down`` leaves nothing of the engine behind (named to run after the image and
compose tests of this folder, which share the session's engine; it starts it again after)."""

from __future__ import annotations

import psutil

from tools.image import build
from tools.image.engine import Engine
from tools.mounts import mounts_below


def _processes_of(engine: Engine) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or ())
        if str(engine.state_dir) in command:
            found.append(command)
    return found


def test_engine_down_leaves_no_process_mount_or_state(docker_engine: Engine):
    base = build.debian_base(docker_engine)
    # On the host's network, as the tests' containers run: dockerd bind-mounts the host's
    # network namespace under its exec root, and that mount outlives dockerd.
    docker_engine.docker("run", "--detach", "--network", "host", base, "sleep", "600")
    assert _processes_of(docker_engine)
    try:
        docker_engine.down()
        assert not docker_engine.is_running()
        assert _processes_of(docker_engine) == []
        assert mounts_below(docker_engine.state_dir) == []
        assert not docker_engine.state_dir.exists(), list(docker_engine.state_dir.rglob("*"))
    finally:
        docker_engine.up()
    assert docker_engine.docker("ps", "--all", "--quiet").stdout.split() == []
