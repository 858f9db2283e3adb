"""The release installed, used, upgraded, rolled back and autoscaled on Kubernetes itself.

As the k8s README tells ops: the dev overlay, the add-ons' CRDs, then ``helm install`` of the
chart with ``k8s/values/dev.yaml`` and the locally built images (``tests/cluster/release.py``).
The tests run in file order, each on the state the previous one left:

install (migrate Job first, every Deployment Available) → ``helm test`` → a checkout through
the web Service ends paid with its email → a web pod deleted under load → ``helm upgrade`` to a
new image tag under load → ``helm rollback`` → the web HPA out under load and back in → the
worker pools' CPU HPAs reading metrics-server. Then breakage the suite must notice (a wrong
probe port, a missing Secret key) never becomes Available.

Figures (timings, request counts, the HPA's replicas over time and a PNG of them) are written
to ``loadtests/reports/cluster/``.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest

from tests.cluster.release import (
    APP_TAGS,
    NAMESPACE,
    RELEASE_NAME,
    REPO_ROOT,
    Release,
    browsing,
    manifest_objects,
    prepare,
    remove,
)
from tests.shopping import checkout_until_paid, wait_for
from tools.image import versions

REPORT_DIR = REPO_ROOT / "loadtests" / "reports" / "cluster"
PAYMENT_TIMEOUT = 120
# Two web pods, so one can go while the other serves; small requests so that web, the pool,
# beat, the exporter, PgBouncer, Postgres, Redis and the HPA's third web pod fit on 2 CPUs.
INSTALL_VALUES = {
    "image": {"tag": APP_TAGS[0]},
    "web": {"replicas": 2, "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}},
}
UPGRADE_VALUES = {**INSTALL_VALUES, "image": {"tag": APP_TAGS[1]}}
HPA_VALUES = {
    **UPGRADE_VALUES,
    "web": {
        **UPGRADE_VALUES["web"],
        "autoscaling": {
            "enabled": True, "minReplicas": 1, "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 40,
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": 30,
                              "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleUp": {"stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 15}]},
            },
        },
    },
    "workerDefaults": {"autoscaling": {"hpa": {"enabled": True, "minReplicas": 1,
                                               "maxReplicas": 2}}},
}  # fmt: skip
LOAD_SECONDS = 20


class Figures:
    def __init__(self) -> None:
        self.values: dict = {}

    def record(self, name: str, value) -> None:
        self.values[name] = value
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        (REPORT_DIR / "figures.json").write_text(json.dumps(self.values, indent=2) + "\n")


@pytest.fixture(scope="module")
def figures() -> Figures:
    return Figures()


@pytest.fixture(scope="module")
def release(cluster, docker_engine, figures):
    """Images in, namespace and peers up, then ``helm install``: the seconds to Available."""
    prepared = prepare(cluster, docker_engine)
    release = Release(cluster)
    started = time.monotonic()
    installed = release.install(**INSTALL_VALUES)
    figures.record("prepare seconds", {k: round(v, 1) for k, v in prepared.items()})
    figures.record("install to Available seconds", round(time.monotonic() - started, 1))
    release.installed = installed
    release.exec_in_web("bazaar", "manage", "generate_fake_products", "30", "--stock", "1000")
    yield release
    remove(cluster)


def test_install_migrates_first_and_every_deployment_becomes_available(release):
    deployments = {d["metadata"]["name"]: d for d in release.deployments()}
    assert {"bazaar-web", "bazaar-worker-default", "bazaar-beat", "bazaar-exporter",
            "bazaar-pgbouncer"} <= set(deployments)  # fmt: skip
    for name, deployment in deployments.items():
        available = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
        assert available.get("Available") == "True", (name, deployment["status"])
        assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"], name
    # With the bundled Postgres the install-time Job is no hook (it would wait for a server
    # Helm has not created): every pod's init container holds it until the schema is complete.
    job = release.get("job", "bazaar-migrate-install")
    assert job["status"].get("succeeded") == 1, job["status"]
    (migrate_pod,) = release.get("pods", "-l", "job-name=bazaar-migrate-install")["items"]
    migrated = datetime.fromisoformat(
        migrate_pod["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
    )
    for pod in release.pods("web"):
        (gate,) = pod["status"]["initContainerStatuses"]
        assert gate["state"]["terminated"]["exitCode"] == 0, gate
        started = pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        # Kubernetes' timestamps have whole seconds.
        assert datetime.fromisoformat(started) >= migrated - timedelta(seconds=1), pod["status"]
    for pod in release.pods("web"):
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_helm_test_passes(release):
    result = release.test()
    assert result["release"]["status"] == "deployed", result
    assert "200" in result.get("logs", ""), result


def test_a_checkout_through_the_web_service_ends_paid_with_the_email(release):
    with release.client() as client:
        assert client.get("/readyz").status_code == 200
        checkout = checkout_until_paid(client, timeout=PAYMENT_TIMEOUT)
    mailpit = release.service_url("mail", 8025)

    def mail_to_the_shopper() -> list[dict]:
        messages = httpx.get(f"{mailpit}/api/v1/messages", timeout=10).json()["messages"]
        return [m for m in messages if checkout.email in {to["Address"] for to in m["To"]}]

    assert wait_for(mail_to_the_shopper, PAYMENT_TIMEOUT), "no email reached Mailpit"


def test_a_web_pod_deleted_under_load_fails_no_request(release, figures):
    victim = release.pods("web")[0]["metadata"]["name"]
    with release.load(browsing()) as load:
        load.wait_for_requests(30)
        release.cluster.kubectl("-n", NAMESPACE, "delete", "pod", victim, "--wait=true",
                                timeout=120)  # fmt: skip
        release.cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/bazaar-web",
                                "--timeout=180s", timeout=200)  # fmt: skip
        load.wait_for_requests(30)
    figures.record("pod deletion", {"requests": len(load.outcomes),
                                    "failures": len(load.failures)})  # fmt: skip
    assert load.failures == [], load.failures[:5]
    assert victim not in {pod["metadata"]["name"] for pod in release.pods("web")}


def test_helm_upgrade_to_a_new_tag_under_load_fails_no_request_and_migrates_once(release, figures):
    started = time.monotonic()
    with release.load(browsing()) as load:
        load.wait_for_requests(20)
        upgraded = release.upgrade(**UPGRADE_VALUES)
        load.wait_for_requests(20)
    figures.record("upgrade", {"requests": len(load.outcomes), "failures": len(load.failures),
                               "seconds": round(time.monotonic() - started, 1)})  # fmt: skip
    assert load.failures == [], load.failures[:5]
    assert (upgraded["revision"], upgraded["status"]) == (2, "deployed")
    images = {c["image"] for pod in release.pods("web") for c in pod["spec"]["containers"]}
    assert images == {f"{versions.APP_IMAGE}:{APP_TAGS[1]}"}
    job = release.get("job", "bazaar-migrate")
    assert (job["status"].get("succeeded"), job["status"].get("failed")) == (1, None)
    job_pods = release.get("pods", "-l", f"job-name={job['metadata']['name']}")["items"]
    assert len(job_pods) == 1, "the pre-upgrade migration ran more than once"


def test_helm_rollback_returns_every_pod_to_the_first_revision(release):
    release.rollback(1)
    history = release.history()
    assert (history[-1]["revision"], history[-1]["status"]) == (3, "deployed"), history
    for deployment in release.deployments():
        if deployment["metadata"]["name"].startswith(("bazaar-web", "bazaar-worker")):
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["image"] == f"{versions.APP_IMAGE}:{APP_TAGS[0]}"
    with release.client() as client:
        assert client.get("/readyz").status_code == 200


def test_the_web_hpa_scales_out_under_load_and_back_in(release, figures):
    release.upgrade(**HPA_VALUES)
    samples: list[tuple[float, int, str]] = []
    stop = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            hpa = release.get("hpa", "bazaar-web")
            current = hpa["status"].get("currentMetrics") or [{}]
            utilization = current[0].get("resource", {}).get("current", {})
            if "currentReplicas" in hpa["status"]:
                samples.append((round(time.monotonic() - started, 1),
                                hpa["status"]["currentReplicas"],
                                str(utilization.get("averageUtilization", ""))))  # fmt: skip
            stop.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        assert wait_for(lambda: samples and samples[-1][1] == 1, 180, 5), samples
        load_started = time.monotonic() - started
        with release.load(browsing(), threads=6) as load:
            scaled_out = wait_for(lambda: max(s[1] for s in samples) >= 2, 240, 5)
            time.sleep(LOAD_SECONDS)
        load_ended = time.monotonic() - started
        assert scaled_out, samples
        assert load.failures == [], load.failures[:5]
        scaled_in = wait_for(lambda: samples[-1][1] == 1, 300, 5)
        assert scaled_in, samples
    finally:
        stop.set()
        sampler.join(10)
        figures.record(
            "web hpa",
            {
                "samples [s, replicas, cpu %]": samples,
                "load [s]": [round(load_started, 1), round(load_ended, 1)],
            },
        )
        _plot(samples, load_started, load_ended)  # fmt: skip


def _plot(samples, load_started: float, load_ended: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 3.5))
    axes.step([s[0] for s in samples], [s[1] for s in samples], where="post", label="replicas")
    axes.axvspan(load_started, load_ended, alpha=0.15, label="load")
    axes.set_xlabel("seconds")
    axes.set_ylabel("web replicas")
    axes.set_yticks([1, 2, 3])
    axes.legend(loc="upper left")
    axes.set_title("bazaar-web HPA on the local cluster (metrics-server, CPU target 40 %)")
    figure.tight_layout()
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    figure.savefig(REPORT_DIR / "web-hpa.png", dpi=100)
    pyplot.close(figure)


def test_the_worker_pools_cpu_hpas_read_metrics_server(release):
    """KEDA is not run here (see tools/cluster/README.md); the CPU HPA is the pools' fallback."""

    def reading() -> dict | None:
        hpa = release.get("hpa", "bazaar-worker-default")
        conditions = {c["type"]: c["status"] for c in hpa["status"].get("conditions", [])}
        return hpa if conditions.get("ScalingActive") == "True" else None

    hpa = wait_for(reading, 120, 5)
    assert hpa, release.get("hpa", "bazaar-worker-default")["status"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "bazaar-worker-default"


# --- breakage the suite must notice --------------------------------------------------------------


def _broken_web(release, break_it) -> str:
    """The release's own web Deployment under another name and labels (no Service selects
    it), broken by ``break_it``; the reason it never becomes Available."""
    (web,) = [o for o in manifest_objects(release.helm.status(RELEASE_NAME))
              if o["kind"] == "Deployment" and o["metadata"]["name"] == "bazaar-web"]  # fmt: skip
    broken = copy.deepcopy(web)
    broken["metadata"] = {"name": "broken-web", "namespace": NAMESPACE}
    labels = {"app.kubernetes.io/name": "broken-web"}
    broken["spec"]["selector"] = {"matchLabels": labels}
    broken["spec"]["template"]["metadata"]["labels"] = labels
    broken["spec"]["replicas"] = 1
    break_it(broken["spec"]["template"]["spec"]["containers"][0])
    try:
        applied = release.cluster.apply([broken])
        assert applied.returncode == 0, applied.stderr
        available = release.cluster.kubectl(
            "-n", NAMESPACE, "wait", "--for=condition=Available", "deployment/broken-web",
            "--timeout=90s", check=False, timeout=120,
        )  # fmt: skip
        assert available.returncode != 0, "a broken web Deployment became Available"
        pods = release.get("pods", "-l", "app.kubernetes.io/name=broken-web")["items"]
        return json.dumps([pod["status"] for pod in pods])
    finally:
        release.cluster.kubectl("-n", NAMESPACE, "delete", "deployment", "broken-web",
                                "--wait=false", check=False)  # fmt: skip


def test_a_wrong_probe_port_never_becomes_available(release):
    def wrong_port(container: dict) -> None:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe in container:
                container[probe]["httpGet"]["port"] = 9999

    statuses = _broken_web(release, wrong_port)
    assert '"ready": false' in statuses


def test_a_missing_secret_key_never_becomes_available(release):
    def missing_key(container: dict) -> None:
        for variable in container["env"]:
            if variable["name"] == "SECRET_KEY":
                variable["valueFrom"]["secretKeyRef"]["key"] = "NO_SUCH_KEY"

    statuses = _broken_web(release, missing_key)
    assert "CreateContainerConfigError" in statuses
    assert "NO_SUCH_KEY" in statuses
