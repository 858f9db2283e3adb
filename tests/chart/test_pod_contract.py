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

import secrets
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from bazaar.common.slices import SLICES
from tests.chart.helm import render
from tests.chart.manifests import SCENARIOS, pod_spec
from tests.chart.pods import DEFAULT_GRACE_SECONDS, Container, Pod, rendered_secrets, workload
from tests.plugins.services import DATABASE_PASSWORD

pytestmark = pytest.mark.services

# The scenario's managed endpoints; the test Postgres has no TLS, hence sslmode.
CONTRACT_VALUES = {"postgresql": {"external": {"sslmode": "prefer"}}}
# Secrets of the default scenario that the release expects to exist (existingSecret).
EXISTING_SECRETS = {
    "bazaar-app": {"SECRET_KEY": secrets.token_urlsafe(64)},
    "bazaar-postgres": {"password": DATABASE_PASSWORD},
}


def rendered_release(services, scenario: str, values=None, **more_endpoints: str):
    """A scenario's objects, its Secrets' data and the local address of every service named."""
    objects = render([SCENARIOS[scenario]], {**CONTRACT_VALUES, **(values or {})})
    endpoints = {
        "bazaar-pgbouncer:6432": f"127.0.0.1:{services.pgbouncer.port}",
        "postgres.example.internal:5432": f"127.0.0.1:{services.postgres.port}",
        "redis.example.internal:6379": f"127.0.0.1:{services.redis.port}",
        **more_endpoints,
    }
    return objects, {**EXISTING_SECRETS, **rendered_secrets(objects)}, endpoints


@pytest.fixture(scope="module")
def release(services):
    """The default scenario, as every test of this module but the read replica's runs it."""
    return rendered_release(services, "default")


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


@contextmanager
def running(pod: Pod) -> Iterator[Container]:
    """The pod as the kubelet runs it: init containers to completion, then the container until
    its probes pass; on leaving, preStop and SIGTERM, and it must exit 0 within its grace."""
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
    objects, secret_data, endpoints = migrated
    deployment = workload(objects, "Deployment", name)
    with running(Pod(name, pod_spec(deployment), secret_data, endpoints, tmp_path)):
        pass


# A page of each slice that answers without data: 200, or 401 without a token.
SLICE_PAGES = {
    "catalog": "/api/v1/categories/",
    "checkout": "/api/v1/cart/",
    "accounts": "/api/v1/auth/me/",
}


@pytest.mark.parametrize("slice_name", sorted(SLICES))
def test_rendered_web_slice_serves_its_paths_and_404s_the_others(slice_name, migrated, tmp_path):
    """The slices scenario's Deployment of one slice, run as rendered: its probes pass, its own
    page answers, every other slice's page is a 404 in the envelope, and it stops cleanly."""
    _, secret_data, endpoints = migrated
    name = f"bazaar-web-{slice_name}"
    deployment = workload(render([SCENARIOS["slices"]], CONTRACT_VALUES), "Deployment", name)
    pod = Pod(name, pod_spec(deployment), secret_data, endpoints, tmp_path)
    with running(pod) as container:
        base = f"http://127.0.0.1:{pod.port_of(container.spec, 'http')}"
        headers = {"Host": "shop.example.com", "X-Forwarded-Proto": "https"}

        def get(path: str) -> httpx.Response:
            return httpx.get(f"{base}{path}", headers=headers, timeout=10)

        assert SLICE_PAGES.keys() == SLICES.keys()
        assert get(SLICE_PAGES[slice_name]).status_code in {200, 401}
        for other, page in SLICE_PAGES.items():
            if other != slice_name:
                response = get(page)
                assert response.status_code == 404, (page, response.text[:200])
                assert response.json()["error"]["code"] == "not_found"


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
    objects, secret_data, endpoints = release
    web_deployment = workload(objects, "Deployment", "bazaar-web")
    pod = Pod("bazaar-web", pod_spec(web_deployment), secret_data, endpoints, tmp_path)
    with running(pod) as web:
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
