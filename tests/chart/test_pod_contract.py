"""Pod contract: every Bazaar container the chart renders really runs as rendered.

For the migrate Job, web, every worker pool, beat and the exporter, the test takes each
container's command, args, env and probes from the manifest the Helm engine rendered, and runs
that process here against the session's real Postgres, PgBouncer and Redis
(tests/plugins/services.py):

* service addresses in the env are rewritten to the local ones, and container ports to free
  local ports, exactly where the rendered env names them;
* ``secretKeyRef`` values come from the rendered Secrets, or from the stand-ins below for the
  Secrets the release expects to exist (``existingSecret``);
* each container gets its own mount namespace with the pod's emptyDirs bound on their mount
  paths and the rest of the filesystem read-only (``readOnlyRootFilesystem``), and runs without
  any capability and with no-new-privileges. It keeps uid 0: this machine's interpreter lives in
  root's home, which no other uid may enter;
* init containers run to completion first; then the startup and readiness probes are called
  (HTTP, or exec inside the container's mount namespace) within the budget they declare;
  then preStop runs, SIGTERM is sent and the process must exit 0 within its grace period.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.chart.helm import render
from tests.chart.manifests import SCENARIOS, pod_spec
from tests.plugins.processes import free_port
from tests.plugins.services import DATABASE_PASSWORD

pytestmark = pytest.mark.services

VENV_BIN = Path(sys.executable).parent
CHECKOUT = Path(__file__).resolve().parents[2]
# The scenario's managed endpoints; the test Postgres has no TLS, hence sslmode.
CONTRACT_VALUES = {"postgresql": {"external": {"sslmode": "prefer"}}}
# Secrets of the default scenario that the release expects to exist (existingSecret).
EXISTING_SECRETS = {
    "bazaar-app": {"SECRET_KEY": secrets.token_urlsafe(64)},
    "bazaar-postgres": {"password": DATABASE_PASSWORD},
}
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
            assert self.process.poll() is None, f"exited during {kind}\n{self.log_tail()}"
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


def rendered_release(services, scenario: str, values=None, **more_endpoints: str):
    """A scenario's objects, its Secrets' data and the local address of every service named."""
    objects = render([SCENARIOS[scenario]], {**CONTRACT_VALUES, **(values or {})})
    rendered_secrets = {
        obj["metadata"]["name"]: {
            key: base64.b64decode(value).decode() for key, value in obj["data"].items()
        }
        for obj in objects
        if obj["kind"] == "Secret"
    }
    endpoints = {
        "bazaar-pgbouncer:6432": f"127.0.0.1:{services.pgbouncer.port}",
        "postgres.example.internal:5432": f"127.0.0.1:{services.postgres.port}",
        "redis.example.internal:6379": f"127.0.0.1:{services.redis.port}",
        **more_endpoints,
    }
    return objects, {**EXISTING_SECRETS, **rendered_secrets}, endpoints


@pytest.fixture(scope="module")
def release(services):
    """The default scenario, as every test of this module but the read replica's runs it."""
    return rendered_release(services, "default")


def workload(objects, kind, name):
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


@pytest.fixture(scope="module")
def migrated(release, tmp_path_factory):
    """The migrate Job, first, as Helm runs it: its container must complete successfully."""
    objects, secret_data, endpoints = release
    job = workload(objects, "Job", "bazaar-migrate")
    pod = Pod(
        "bazaar-migrate", pod_spec(job), secret_data, endpoints, tmp_path_factory.mktemp("migrate")
    )
    (spec,) = pod.spec["containers"]
    container = Container(pod, spec)
    code = container.run_to_completion(timeout=job["spec"]["activeDeadlineSeconds"])
    assert code == 0, container.log_tail()
    direct_postgres = endpoints["postgres.example.internal:5432"] + "/"
    assert direct_postgres in container.env["DATABASE_DIRECT_URL"], "migrate bypasses PgBouncer"
    return release


def long_running_workloads():
    objects = render([SCENARIOS["default"]], CONTRACT_VALUES)
    params = []
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        component = obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        if component in {"web", "worker", "beat", "exporter"}:
            params.append(pytest.param(obj["metadata"]["name"]))
    return params


def test_the_migrate_job_leaves_nothing_unapplied(migrated, tmp_path):
    """After the Job (run by the fixture), the web pod's schema gate passes at once."""
    objects, secret_data, endpoints = migrated
    web = workload(objects, "Deployment", "bazaar-web")
    pod = Pod("bazaar-web", pod_spec(web), secret_data, endpoints, tmp_path)
    (gate,) = pod.spec["initContainers"]
    check = Container(pod, {**gate, "args": ["migrate", "--check"]})
    assert check.run_to_completion(timeout=120) == 0, check.log_tail()


@contextlib.contextmanager
def running(release, name: str, root: Path) -> Iterator[Container]:
    """The Deployment's pod: init containers to completion, then its container until every
    probe passed; on leaving, preStop and SIGTERM, after which it must exit 0 in time."""
    objects, secret_data, endpoints = release
    deployment = workload(objects, "Deployment", name)
    pod = Pod(name, pod_spec(deployment), secret_data, endpoints, root)
    for init_spec in pod.spec.get("initContainers", []):
        init = Container(pod, init_spec)
        code = init.run_to_completion(timeout=int(init_spec["args"][-1]))
        assert code == 0, f"init container {init_spec['name']}\n{init.log_tail()}"
    (spec,) = pod.spec["containers"]
    container = Container(pod, spec)
    container.start()
    try:
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            if kind in spec:
                container.wait_for(kind)
        yield container
        grace = pod.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        code = container.terminate(grace)
    finally:
        container.kill()
    assert code == 0, f"exit code {code} after SIGTERM\n{container.log_tail()}"


@pytest.mark.parametrize("name", long_running_workloads())
def test_rendered_container_starts_probes_and_stops_cleanly(name, migrated, tmp_path):
    with running(migrated, name, tmp_path):
        pass


def test_the_read_replica_scenarios_web_pod_serves_the_catalog_from_the_read_pool(
    services, replica, migrated, tmp_path
):
    """The read-replica scenario's web pod, as rendered, with its read pool's address pointed
    at the test replica's PgBouncer: a catalog page is read on the standby."""
    release = rendered_release(
        services,
        "read-replica",
        {"config": {"allowedHosts": ["127.0.0.1"]}},
        **{"bazaar-pgbouncer-read:6432": f"127.0.0.1:{replica.pgbouncer.port}"},
    )
    replica.wait_caught_up()
    replica.reset_statements()
    with running(release, "bazaar-web", tmp_path) as web:
        assert web.env["DATABASE_REPLICA_URL"].endswith(
            f"@127.0.0.1:{replica.pgbouncer.port}/bazaar"
        )
        port = web.pod.port_of(web.spec, "http")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/products/", headers={"X-Forwarded-Proto": "https"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            assert response.status == 200
    assert any("catalog_product" in statement["query"] for statement in replica.statements())
