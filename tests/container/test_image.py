"""The image, built for real and run as the chart runs it.

The committed Dockerfile is built by a Docker engine on local twins of its base images
(``app_image``). Then the chart's default release is rendered by the Helm engine and each of its
Bazaar containers (the migrate Job, web, every worker pool, beat, the exporter) runs in that
image, hardened exactly as rendered (``tests/container/docker_pods.py``: read-only root, the
pod's uid, no capability, no-new-privileges, a tmpfs only where the pod mounts an emptyDir),
against the session's real Postgres, PgBouncer, Redis, payment-provider simulator and SMTP sink.

They must pass their probes, serve a checkout that ends paid with the email sent, write nothing
outside their mounts, run as uid 10001, and exit 0 on SIGTERM within their grace period. A build
or a role that fails says why with its log.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.chart.helm import render
from tests.chart.manifests import SCENARIOS, pod_spec
from tests.chart.pods import DEFAULT_GRACE_SECONDS, Pod, rendered_secrets, workload
from tests.container.docker_pods import DockerContainer
from tests.plugins.services import DATABASE_PASSWORD, DATABASE_USER
from tests.shopping import checkout_until_paid, wait_for
from tools.image import build
from tools.image.build import ImageBuildError

pytestmark = pytest.mark.services

APP_UID = 10001
# The release gets a database and a Redis database of its own on the session's servers.
DATABASE = "bazaar_image"
REDIS_DB = 5
VALUES = {
    "postgresql": {"external": {"sslmode": "prefer"}},
    "config": {"allowedHosts": ["127.0.0.1"]},
}
LONG_RUNNING = ("web", "worker", "beat", "exporter")
PAYMENT_TIMEOUT = 90
HEALTHY_TIMEOUT = 60
INGRESS_HEADERS = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def release(services, psp):
    """The default scenario's objects, its Secrets and where each service it names is here."""
    with services.postgres.connect() as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE} OWNER {DATABASE_USER}")
    objects = render([SCENARIOS["default"]], VALUES)
    existing = {
        "bazaar-app": {"SECRET_KEY": secrets.token_urlsafe(64), "EMAIL_URL": services.smtp.url},
        "bazaar-postgres": {"password": DATABASE_PASSWORD},
    }
    endpoints = {
        "bazaar-pgbouncer:6432/bazaar": f"127.0.0.1:{services.pgbouncer.port}/{DATABASE}",
        "postgres.example.internal:5432/bazaar": f"127.0.0.1:{services.postgres.port}/{DATABASE}",
        "redis.example.internal:6379/0": f"127.0.0.1:{services.redis.port}/{REDIS_DB}",
        "https://payments.example.com": psp.url,
    }
    yield objects, {**existing, **rendered_secrets(objects)}, endpoints
    with services.postgres.connect() as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def container_of(release, kind: str, name: str, root, engine, image, **kwargs) -> DockerContainer:
    objects, secret_data, endpoints = release
    pod = Pod(name, pod_spec(workload(objects, kind, name)), secret_data, endpoints, root)
    (spec,) = pod.spec["containers"]
    return DockerContainer(pod, spec, engine=engine, image=image.reference, **kwargs)


def assert_hardened(container: DockerContainer) -> None:
    assert container.writes_outside_mounts() == [], f"{container.name} wrote outside its mounts"
    assert container.inspect()["HostConfig"]["ReadonlyRootfs"]
    assert container.inspect()["HostConfig"]["CapDrop"] == ["ALL"]


@pytest.fixture(scope="module")
def migrated(release, docker_engine, app_image, tmp_path_factory) -> DockerContainer:
    """The migrate Job's container, first, as Helm runs it: it must complete successfully."""
    job = workload(release[0], "Job", "bazaar-migrate")
    migrate = container_of(
        release, "Job", "bazaar-migrate", tmp_path_factory.mktemp("migrate"),
        docker_engine, app_image,
    )  # fmt: skip
    code = migrate.run_to_completion(timeout=job["spec"]["activeDeadlineSeconds"])
    assert code == 0, migrate.log_tail()
    yield migrate
    migrate.kill()


@pytest.fixture(scope="module")
def running(migrated, release, docker_engine, app_image, tmp_path_factory) -> Iterator[dict]:
    """Every long-running Deployment's container, its init container run first, each past its
    startup and readiness probes."""
    names = [
        obj["metadata"]["name"]
        for obj in release[0]
        if obj["kind"] == "Deployment"
        and obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        in LONG_RUNNING
    ]
    containers: dict[str, DockerContainer] = {}
    try:
        for name in names:
            root = tmp_path_factory.mktemp(name)
            container = container_of(
                release, "Deployment", name, root, docker_engine, app_image,
                healthcheck=name == "bazaar-web",
            )  # fmt: skip
            for init_spec in container.pod.spec.get("initContainers", []):
                init = DockerContainer(
                    container.pod, init_spec, engine=docker_engine, image=app_image.reference
                )
                code = init.run_to_completion(timeout=int(init_spec["args"][-1]))
                assert code == 0, f"{name}: init container {init_spec['name']}\n{init.log_tail()}"
                init.kill()
            containers[name] = container
            container.start()
        for container in containers.values():
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                if kind in container.spec:
                    container.wait_for(kind)
        yield containers
    finally:
        for container in containers.values():
            container.kill()


def test_the_migrate_job_runs_hardened_and_writes_only_its_mounts(migrated):
    assert migrated.inspect()["State"]["ExitCode"] == 0
    assert migrated.inspect()["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    assert_hardened(migrated)


def test_every_role_runs_as_the_app_user_and_writes_only_its_mounts(running):
    """web, each worker pool, beat and the exporter: alive, uid 10001 in every process (real,
    effective, saved, filesystem), the image's filesystem unchanged."""
    assert {name.removeprefix("bazaar-") for name in running} >= {
        "web", "worker-default", "worker-payments", "worker-notifications", "beat", "exporter",
    }  # fmt: skip
    for container in running.values():
        assert container.running(), container.log_tail()
        assert container.process_uids() == {APP_UID}, container.name
        assert_hardened(container)


def test_the_images_healthcheck_turns_healthy_on_web(running):
    web = running["bazaar-web"]
    assert wait_for(lambda: web.health() == "healthy", HEALTHY_TIMEOUT), web.inspect()["State"][
        "Health"
    ]


def test_a_checkout_through_the_web_container_ends_paid_with_the_email(
    running, release, docker_engine, app_image, services, tmp_path
):
    """Demo data from the ``bootstrap`` role, then the README's journey: the workers and beat
    in their containers capture the payment and send the email."""
    bootstrap = container_of(release, "Job", "bazaar-migrate", tmp_path, docker_engine, app_image)
    # As docker-compose.yml runs it: the demo images go to the media volume web serves.
    media = {"name": "media", "mountPath": "/app/media"}
    bootstrap.spec = {
        **bootstrap.spec,
        "args": ["bootstrap"],
        "volumeMounts": [*bootstrap.spec["volumeMounts"], media],
    }
    bootstrap.env |= {"DJANGO_SUPERUSER_EMAIL": "admin@bazaar.local",
                      "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16)}  # fmt: skip
    assert bootstrap.run_to_completion(timeout=300) == 0, bootstrap.log_tail()
    bootstrap.kill()

    web = running["bazaar-web"]
    port = web.pod.port_of(web.spec, "http")
    services.smtp.clear()
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers=INGRESS_HEADERS, timeout=15
    ) as client:
        checkout = checkout_until_paid(client, timeout=PAYMENT_TIMEOUT)
    messages = services.smtp.wait_for_messages(timeout=PAYMENT_TIMEOUT)
    assert [m for m in messages if checkout.email in str(m["To"])], [m["To"] for m in messages]


def test_the_check_role_passes_in_the_hardened_container(
    release, docker_engine, app_image, tmp_path
):
    check = container_of(release, "Deployment", "bazaar-web", tmp_path, docker_engine, app_image)
    check.spec = {**check.spec, "args": ["check"]}
    assert check.run_to_completion(timeout=120) == 0, check.log_tail()
    assert_hardened(check)
    check.kill()


def test_every_role_exits_0_on_sigterm_within_its_grace_period(running):
    """Last: the kubelet's stop sequence (preStop, SIGTERM) on each running container."""
    codes = {}
    for name, container in running.items():
        grace = container.pod.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        codes[name] = container.terminate(grace)
    assert codes == dict.fromkeys(running, 0)


# --- failures say why ---------------------------------------------------------------------------


def test_a_broken_dockerfile_fails_the_build_with_its_log(docker_engine, app_image, tmp_path):
    """A COPY of a file the context does not have: the error names it, from the build log."""
    broken = tmp_path / "Dockerfile"
    text = build.DOCKERFILE.read_text()
    assert "COPY pyproject.toml uv.lock README.md ./" in text
    broken.write_text(
        text.replace(
            "COPY pyproject.toml uv.lock README.md ./",
            "COPY pyproject.toml uv.lock README.md no-such-file.txt ./",
        )
    )
    with pytest.raises(ImageBuildError) as failed:
        build.app_image(docker_engine, "broken", dockerfile=broken)
    assert "no-such-file.txt" in str(failed.value)
    assert "failed" in str(failed.value)


def test_a_role_that_crashes_on_start_fails_with_the_containers_log(
    release, docker_engine, app_image, tmp_path
):
    """web with a SECRET_KEY prod refuses: the probe wait fails, quoting the container's log."""
    web = container_of(release, "Deployment", "bazaar-web", tmp_path, docker_engine, app_image)
    web.env["SECRET_KEY"] = "too-short"
    web.start()
    try:
        with pytest.raises((AssertionError, pytest.fail.Exception)) as failed:
            web.wait_for("startupProbe")
    finally:
        web.kill()
    assert "startupProbe" in str(failed.value)
    assert "SECRET_KEY must be set" in str(failed.value)
