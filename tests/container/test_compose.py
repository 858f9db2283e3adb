"""docker-compose.yml runs the chart's roles, pools and environment, with health-gated startup."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.container.contract import (
    ROOT,
    app_env_keys,
    chart_env_keys_by_role,
    chart_worker_pools,
    launcher_accepts,
)

IMAGE_REPOSITORY = "bazaar/bazaar"
# Compose serves plain http on localhost where the chart terminates TLS at the ingress, so it
# turns the redirect off; bootstrap's admin credentials belong to a role the chart never runs.
COMPOSE_ONLY_KEYS = {"SECURE_SSL_REDIRECT"}
BOOTSTRAP_ONLY_KEYS = {"DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def bazaar_services(compose) -> dict[str, dict]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").split(":")[0] == IMAGE_REPOSITORY
    }


def test_bazaar_services_build_the_repository_image(bazaar_services):
    """Every Bazaar service builds this Dockerfile's production stage."""
    assert bazaar_services
    for name, service in bazaar_services.items():
        assert service["build"]["context"] == ".", name
        assert service["build"]["target"] == "runtime", name


def test_every_command_is_a_launcher_role(bazaar_services):
    """Each Bazaar service's command is one the launcher accepts (the image's entrypoint)."""
    for name, service in bazaar_services.items():
        assert "entrypoint" not in service, f"{name} must keep the launcher entrypoint"
        assert launcher_accepts(service["command"]), f"{name}: bazaar {service['command']}"


def test_worker_services_are_the_chart_pools(bazaar_services):
    """One worker service per pool in the chart's `workers:` list, same queues and concurrency."""
    workers = {
        name: service["command"]
        for name, service in bazaar_services.items()
        if service["command"][0] == "worker"
    }
    expected = {
        f"worker-{pool['name']}": [
            "worker",
            pool["name"],
            "--queues",
            ",".join(pool["queues"]),
            "--concurrency",
            str(pool["concurrency"]),
        ]
        for pool in chart_worker_pools()
    }
    assert workers == expected


def test_singleton_and_one_shot_roles_are_present(bazaar_services):
    """web, beat, exporter, migrate and the simulator each run exactly once."""
    roles = [service["command"][0] for service in bazaar_services.values()]
    for role in ("web", "beat", "exporter", "migrate", "psp-simulator"):
        assert roles.count(role) == 1, role


def test_app_environment_uses_only_the_charts_keys(bazaar_services):
    """Each role gets only keys the chart gives that role (and that the app reads)."""
    chart_keys = chart_env_keys_by_role()
    read_keys = app_env_keys()
    for name, service in bazaar_services.items():
        keys = set(service["environment"])
        role = service["command"][0]
        # Django's createsuperuser (called by bootstrap) reads the DJANGO_SUPERUSER_* keys.
        bootstrap_keys = BOOTSTRAP_ONLY_KEYS if role == "bootstrap" else set()
        assert keys <= read_keys | bootstrap_keys, f"{name} sets unread keys: {keys - read_keys}"
        if role == "psp-simulator":
            continue
        # bootstrap is migrate plus demo data: it gets what the chart's migrate gets.
        chart_role = "migrate" if role == "bootstrap" else role
        allowed = chart_keys[chart_role] | COMPOSE_ONLY_KEYS | bootstrap_keys
        assert keys <= allowed, f"{name}: {keys - allowed}"


def test_chart_credentials_have_values(compose):
    """The keys the chart reads from its Secret are all given, so no role falls back to defaults."""
    env = compose["x-app-env"]
    for key in ("SECRET_KEY", "PAYMENT_PROVIDER_API_KEY", "PAYMENT_WEBHOOK_SECRET", "EMAIL_URL"):
        assert env.get(key), key


def test_app_and_simulator_agree_on_the_payment_wiring(compose, bazaar_services):
    """The app reaches the simulator, shares its keys, and the simulator's webhooks reach web."""
    app_env = compose["x-app-env"]
    psp_name, psp = next(
        (n, s) for n, s in bazaar_services.items() if s["command"][0] == "psp-simulator"
    )
    provider = urlsplit(app_env["PAYMENT_PROVIDER_URL"])
    assert (provider.hostname, str(provider.port)) == (psp_name, psp["environment"]["PORT"])
    assert psp["environment"]["PSP_API_KEY"] == app_env["PAYMENT_PROVIDER_API_KEY"]
    assert psp["environment"]["PSP_WEBHOOK_SECRET"] == app_env["PAYMENT_WEBHOOK_SECRET"]
    webhook = urlsplit(psp["environment"]["PSP_WEBHOOK_URL"])
    web_name = next(n for n, s in bazaar_services.items() if s["command"][0] == "web")
    assert webhook.hostname == web_name
    assert webhook.path == "/api/v1/payments/webhook/"
    assert webhook.hostname in app_env["ALLOWED_HOSTS"].split(",")


def test_database_goes_through_pgbouncer_and_migrations_bypass_it(compose):
    """DATABASE_URL is the pooler in transaction mode; DATABASE_DIRECT_URL is Postgres itself."""
    env = compose["x-app-env"]
    pooled, direct = urlsplit(env["DATABASE_URL"]), urlsplit(env["DATABASE_DIRECT_URL"])
    assert pooled.hostname == "pgbouncer"
    assert str(pooled.port) == compose["services"]["pgbouncer"]["environment"]["LISTEN_PORT"]
    assert compose["services"]["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert env["DATABASE_POOLER"] == "pgbouncer"
    assert direct.hostname == "postgres"


def _has_healthcheck(service: dict, image_has_one: bool) -> bool:
    healthcheck = service.get("healthcheck")
    if healthcheck is None:
        return image_has_one
    return not healthcheck.get("disable", False) and bool(healthcheck.get("test"))


def test_startup_is_gated_on_health_and_migrations(compose, bazaar_services):
    """Every depends_on has a condition that can be met, and long-running roles wait for migrate."""
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = rule["condition"]
            if condition == "service_healthy":
                target = services[dependency]
                assert _has_healthcheck(target, dependency in bazaar_services), (name, dependency)
            else:
                assert condition == "service_completed_successfully", (name, dependency)
    migrate = next(n for n, s in bazaar_services.items() if s["command"] == ["migrate"])
    for name, service in bazaar_services.items():
        if service["command"][0] in {"web", "worker", "beat", "exporter", "bootstrap"}:
            rule = service["depends_on"][migrate]
            assert rule["condition"] == "service_completed_successfully", name


def test_long_running_services_report_health(compose, bazaar_services):
    """Everything except one-shot jobs and exporters-of-exporters has a health check."""
    one_shot = {n for n, s in bazaar_services.items() if s.get("restart") == "no"}
    for name, service in compose["services"].items():
        if name in one_shot or name.endswith("-exporter"):
            continue
        assert _has_healthcheck(service, name in bazaar_services), name


def test_containers_are_hardened_like_the_chart(bazaar_services):
    """Non-root, read-only root filesystem, tmpfs only where the chart mounts emptyDirs."""
    for name, service in bazaar_services.items():
        assert service["user"].split(":")[0] == "10001", name
        assert service["read_only"] is True, name
        assert {path.split(":")[0] for path in service["tmpfs"]} == {"/tmp", "/run/prometheus"}
        assert service["cap_drop"] == ["ALL"], name


def test_prometheus_scrapes_every_metrics_endpoint(compose, bazaar_services):
    """Web, each worker pool, the exporter and the data-tier exporters are scrape targets."""
    config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    metrics_port = compose["x-app-env"]["METRICS_PORT"]
    for name, service in bazaar_services.items():
        role = service["command"][0]
        if role == "web":
            assert f"{name}:8000" in targets
        elif role in {"worker", "exporter"}:
            assert f"{name}:{metrics_port}" in targets
    assert "pgbouncer-exporter:9127" in targets
    assert "redis-exporter:9121" in targets


def test_prometheus_loads_the_repository_rules(compose):
    """The mounted rules folder exists and the config loads its files."""
    prometheus = compose["services"]["prometheus"]
    host_path, container_path = prometheus["volumes"][0].split(":")[:2]
    rules = ROOT / host_path
    assert rules.is_dir() and any(rules.glob("*.yaml"))
    config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])
    assert any(Path(pattern).parent == Path(container_path) for pattern in config["rule_files"])
