"""A rendered pod run here: its Secrets, emptyDirs and env resolved as the kubelet would, and
its containers run with the hardening they declare.

``Pod`` resolves a pod spec against local services (addresses and ports rewritten where the env
names them); ``Container`` runs one of its containers as a process in its own mount namespace
(``test_pod_contract.py``); ``tests/container/docker_pods.py`` runs the same container in the
built image instead. Both call probes and exec hooks and stop the container the same way.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.processes import free_port

VENV_BIN = Path(sys.executable).parent
CHECKOUT = Path(__file__).resolve().parents[2]
DEFAULT_GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds
ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(value: str, defined: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: earlier variables only, unknown ones left as written."""
    return ENV_REFERENCE.sub(lambda m: defined.get(m.group(1), m.group(0)), value)


@dataclass
class Pod:
    """One rendered pod: its objects' Secrets, its emptyDirs and the local endpoints."""

    name: str
    spec: dict[str, Any]
    secrets: dict[str, dict[str, str]]
    endpoints: dict[str, str]
    root: Path
    ports: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.volumes = {}
        for volume in self.spec.get("volumes", []):
            assert "emptyDir" in volume, f"{self.name}: only emptyDir volumes can run here"
            path = self.root / "volumes" / volume["name"]
            path.mkdir(parents=True)
            self.volumes[volume["name"]] = path
        for container in [*self.spec.get("initContainers", []), *self.spec["containers"]]:
            for port in container.get("ports", []):
                self.ports.setdefault(port["containerPort"], free_port())

    def env(self, container: dict[str, Any]) -> dict[str, str]:
        env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOSTNAME": self.name, "HOME": "/tmp"}
        for item in container.get("env", []):
            if "valueFrom" in item:
                ref = item["valueFrom"]["secretKeyRef"]
                value = self.secrets.get(ref["name"], {}).get(ref["key"])
                if value is None:
                    assert ref.get("optional"), f"{item['name']}: no Secret {ref}"
                    continue
            else:
                value = expand(item["value"], env)
                for address, local in self.endpoints.items():
                    value = value.replace(address, local)
                if value.isdigit() and int(value) in self.ports:
                    value = str(self.ports[int(value)])
            env[item["name"]] = value
        return env

    def port_of(self, container: dict[str, Any], port: int | str) -> int:
        if isinstance(port, str):
            port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
        return self.ports[port]


class Container:
    """A container process in its own mount namespace, without capabilities."""

    def __init__(self, pod: Pod, spec: dict[str, Any]) -> None:
        self.pod, self.spec = pod, spec
        self.env = pod.env(spec)
        self.log_path = pod.root / f"{spec['name']}.log"
        self.process: subprocess.Popen | None = None

    def _isolated(self, argv: list[str]) -> list[str]:
        mounts = sorted(self.spec.get("volumeMounts", []), key=lambda m: m["mountPath"] == "/tmp")
        # The checkout (code and venv) may itself live under a path an emptyDir covers, such as
        # /tmp in a CI clone: keep a handle on it and bind it back over the emptyDir after.
        script = [
            "mount -t tmpfs -o size=4m tmpfs /run",
            f"mkdir -p /run/checkout && mount --bind {CHECKOUT} /run/checkout",
        ]
        for mount in mounts:
            source = self.pod.volumes[mount["name"]]
            script.append(f"mkdir -p {mount['mountPath']}")
            script.append(f"mount --bind {source} {mount['mountPath']}")
        script.append(
            f"[ -e {VENV_BIN}/bazaar ] || "
            f"(mkdir -p {CHECKOUT} && mount --bind /run/checkout {CHECKOUT})"
        )
        if self.spec["securityContext"]["readOnlyRootFilesystem"]:
            script.append("mount -o remount,bind,ro /")
        script.append("cd /")
        script.append('exec setpriv --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"')
        return [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-ec", " && ".join(script), "container", *argv,
        ]  # fmt: skip

    def start(self) -> None:
        argv = [*self.spec["command"], *self.spec.get("args", [])]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self._isolated(argv),
            env=self.env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run_to_completion(self, timeout: float) -> int:
        self.start()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.spec['name']} still running after {timeout}s\n{self.log_tail()}")

    def exec_in(self, command: list[str], timeout: float) -> bool:
        """An exec probe or hook: the command in this container's mount namespace and env."""
        argv = [
            "nsenter", f"--target={self.process.pid}", "--mount", "--",
            "setpriv", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--", *command,
        ]  # fmt: skip
        try:
            completed = subprocess.run(argv, env=self.env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return completed.returncode == 0

    def probe(self, probe: dict[str, Any]) -> bool:
        timeout = probe.get("timeoutSeconds", 1)
        if "exec" in probe:
            return self.exec_in(probe["exec"]["command"], timeout)
        if "httpGet" in probe:
            port = self.pod.port_of(self.spec, probe["httpGet"]["port"])
            url = f"http://127.0.0.1:{port}{probe['httpGet']['path']}"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    return 200 <= response.status < 400
            except (urllib.error.URLError, OSError):
                return False
        raise AssertionError(f"unsupported probe {probe}")

    def wait_for(self, kind: str) -> None:
        """Call a probe as the kubelet would until it passes, within the budget it declares."""
        probe = self.spec[kind]
        period = probe.get("periodSeconds", 10)
        budget = probe.get("initialDelaySeconds", 0) + period * probe.get("failureThreshold", 3)
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            assert self.running(), f"exited during {kind}\n{self.log_tail()}"
            if self.probe(probe):
                return
            time.sleep(min(period, 1))
        pytest.fail(f"{self.spec['name']}: {kind} failed for {budget}s\n{self.log_tail()}")

    def terminate(self, grace_seconds: int) -> int:
        """preStop, then SIGTERM; the exit code, or a failure when the grace period runs out."""
        deadline = time.monotonic() + grace_seconds
        pre_stop = self.spec.get("lifecycle", {}).get("preStop", {}).get("exec")
        if pre_stop:
            assert self.exec_in(pre_stop["command"], timeout=grace_seconds)
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"no exit within {grace_seconds}s of shutdown\n{self.log_tail()}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def rendered_secrets(objects: list[dict]) -> dict[str, dict[str, str]]:
    """The data of every Secret the release renders, decoded."""
    return {
        obj["metadata"]["name"]: {
            key: base64.b64decode(value).decode() for key, value in obj["data"].items()
        }
        for obj in objects
        if obj["kind"] == "Secret"
    }


def workload(objects: list[dict], kind: str, name: str) -> dict:
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj
