"""The container figures of ``make bench``: the image's size, the cold start of a hardened web
container to its first ``/readyz`` 200, and the resident memory of each web worker in it.

The image is the committed Dockerfile built by ``tools/image`` (the private engine, the local
twins of its bases). The container runs ``bazaar web`` with the stack's environment and the same
gunicorn settings as the suite's ``app`` server, hardened as the chart runs it, on the host's
network; the suite divides its figures by that process's, measured in the same run. An engine
the suite started is stopped after (images and build cache stay in ``.cache/docker``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import psutil

from loadtests.web import READY_TIMEOUT, status
from tools.image import build
from tools.image.engine import Engine
from tools.image.run import hardened
from tools.stack.processes import free_ports, wait_until

APP_USER = "10001:10001"
WRITABLE = ("/tmp", "/run/prometheus")  # noqa: S108 - the web pod's emptyDirs


def container_figures(
    app_env: Mapping[str, str], *, run_dir: Path, first_port: int, gunicorn: Mapping[str, str]
) -> dict:
    engine = Engine()
    started_here = not engine.is_running()
    engine.up()
    try:
        return _figures(engine, app_env, run_dir=run_dir, first_port=first_port, gunicorn=gunicorn)
    finally:
        if started_here:  # one `make image-local` started stays for its user
            engine.down()


def _figures(
    engine: Engine,
    app_env: Mapping[str, str],
    *,
    run_dir: Path,
    first_port: int,
    gunicorn: Mapping[str, str],
) -> dict:
    image = build.app_image(engine, "bench")
    size = json.loads(engine.docker("image", "inspect", image.reference).stdout)[0]["Size"]
    port = free_ports(1, first_port)[0]
    env_file = run_dir / "container-web.env"
    env = {**app_env, **gunicorn, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": "/run/prometheus"}  # fmt: skip
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    env_file.chmod(0o600)
    name = f"bench-web-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    engine.docker(
        "run", "--detach", "--name", name, "--network", "host", "--env-file", env_file,
        *hardened(APP_USER, WRITABLE), image.reference, "web",
    )  # fmt: skip
    try:
        ready = wait_until(
            lambda: status(f"http://127.0.0.1:{port}/readyz") == 200, READY_TIMEOUT, 0.02
        )
        ready_seconds = round(time.monotonic() - started, 2)
        if not ready:
            logs = engine.docker("logs", "--tail", "30", name, check=False)
            raise RuntimeError(f"the web container was not ready:\n{logs.stdout}{logs.stderr}")
        master = psutil.Process(
            json.loads(engine.docker("inspect", name).stdout)[0]["State"]["Pid"]
        )
        rss = [round(worker.memory_info().rss / 2**20, 1) for worker in master.children()]
    finally:
        engine.docker("rm", "--force", name, check=False)
    return {
        "image": image.reference,
        "image_size_mb": round(size / 2**20, 1),
        "build_seconds": round(image.seconds, 1),
        "ready_seconds": ready_seconds,
        "worker_rss_mb": rss,
    }
