"""A rendered container run in the built image by the Docker engine, hardened as the chart runs
it: its command, args and env as rendered; ``--read-only`` when its root filesystem is;
``--user`` from its (or its pod's) ``runAsUser``/``runAsGroup``; no capability at all;
no-new-privileges; a tmpfs owned by that user on each emptyDir mount path and nowhere else;
the host's network, so
the service addresses the ``Pod`` rewrote to local ones are reached as they are.

Probes, exec hooks and the stop sequence are ``tests/chart/pods.Container``'s, on top of
``docker exec``, ``docker kill --signal`` and ``docker wait``.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import pytest

from tests.chart.pods import Container, Pod
from tools.image.engine import Engine
from tools.image.run import hardened

# The image's HEALTHCHECK keeps its command; it is only asked more often than every 30 s.
HEALTH_INTERVAL = "2s"


class DockerContainer(Container):
    def __init__(
        self, pod: Pod, spec: dict[str, Any], *, engine: Engine, image: str, healthcheck=False
    ) -> None:
        super().__init__(pod, spec)
        self.engine, self.image, self.healthcheck = engine, image, healthcheck
        self.name = f"{pod.name}-{spec['name']}-{uuid.uuid4().hex[:6]}"
        # The image has its own PATH and HOME; the rest is the rendered, resolved env.
        self.env = {k: v for k, v in self.env.items() if k not in {"PATH", "HOSTNAME"}}
        self.started = False

    @property
    def user(self) -> str:
        context = {**self.pod.spec.get("securityContext", {}), **self.spec["securityContext"]}
        return f"{context['runAsUser']}:{context.get('runAsGroup', context['runAsUser'])}"

    def run_arguments(self) -> list[str]:
        security = self.spec["securityContext"]
        assert security["capabilities"]["drop"] == ["ALL"], "the chart drops every capability"
        assert security["allowPrivilegeEscalation"] is False
        env_file = self.pod.root / f"{self.name}.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in self.env.items()))
        env_file.chmod(0o600)
        arguments = [
            "--name", self.name, "--hostname", self.pod.name, "--network", "host",
            "--env-file", env_file,
            *hardened(
                self.user,
                [mount["mountPath"] for mount in self.spec.get("volumeMounts", [])],
                read_only=security.get("readOnlyRootFilesystem", False),
            ),
        ]  # fmt: skip
        if self.healthcheck:
            arguments += ["--health-interval", HEALTH_INTERVAL]
        else:
            arguments.append("--no-healthcheck")
        entrypoint, *command = [*self.spec["command"], *self.spec.get("args", [])]
        return [*arguments, "--entrypoint", entrypoint, self.image, *command]

    def start(self) -> None:
        self.engine.docker("run", "--detach", *self.run_arguments())
        self.started = True

    def running(self) -> bool:
        return self.started and self.inspect()["State"]["Running"]

    def inspect(self) -> dict:
        return json.loads(self.engine.docker("inspect", self.name).stdout)[0]

    def wait_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.inspect()["State"]
            if not state["Running"]:
                return state["ExitCode"]
            time.sleep(0.2)
        return None

    def run_to_completion(self, timeout: float) -> int:
        self.start()
        code = self.wait_exit(timeout)
        if code is None:
            self.kill()
            pytest.fail(f"{self.spec['name']} still running after {timeout}s\n{self.log_tail()}")
        return code

    def exec_in(self, command: list[str], timeout: float) -> bool:
        try:
            result = self.engine.docker("exec", self.name, *command, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    def terminate(self, grace_seconds: int) -> int:
        deadline = time.monotonic() + grace_seconds
        pre_stop = self.spec.get("lifecycle", {}).get("preStop", {}).get("exec")
        if pre_stop:
            assert self.exec_in(pre_stop["command"], timeout=grace_seconds)
        self.engine.docker("kill", "--signal", "TERM", self.name)
        code = self.wait_exit(max(deadline - time.monotonic(), 0))
        if code is None:
            self.kill()
            pytest.fail(f"no exit within {grace_seconds}s of SIGTERM\n{self.log_tail()}")
        return code

    def kill(self) -> None:
        if self.started:
            self.engine.docker("rm", "--force", self.name, check=False)
            self.started = False

    def log_tail(self, lines: int = 40) -> str:
        result = self.engine.docker("logs", "--tail", lines, self.name, check=False)
        return (result.stdout + result.stderr).strip() or "(no output)"

    # --- what the hardening tests look at ------------------------------------------------------

    def writes_outside_mounts(self) -> list[str]:
        """``docker diff``: every path changed in the image's filesystem (tmpfs mounts aside)."""
        return self.engine.docker("diff", self.name).stdout.split("\n")[:-1]

    def process_uids(self) -> set[int]:
        """Real, effective, saved and filesystem uid of every process in the container, read
        from /proc on the host."""
        uids = set()
        for pid in self.engine.docker("top", self.name, "-eo", "pid").stdout.split()[1:]:
            with open(f"/proc/{pid}/status") as status:
                line = next(line for line in status if line.startswith("Uid:"))
            uids.update(int(uid) for uid in line.split()[1:])
        return uids

    def health(self) -> str:
        return self.inspect()["State"].get("Health", {}).get("Status", "none")
