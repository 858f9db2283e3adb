"""`make stack`: the production shape on one machine, proven end to end through its front door.

Slow (it starts some twenty processes): marked ``stack``; run with ``pytest tests/stack -m stack``.
"""

from __future__ import annotations

import uuid

import httpx
import psutil
import pytest

from tests.plugins.stack import RunningStack, run_stack_command
from tests.shopping import checkout_until_paid, wait_for
from tools.stack.processes import RunningProcess, port_is_free
from tools.stack.runner import chart_worker_pools

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1200)]

PAYMENT_TIMEOUT = 90


@pytest.fixture
def client(stack: RunningStack) -> httpx.Client:
    with httpx.Client(base_url=stack.shop_url, timeout=15) as http:
        yield http


def test_readyz_answers_200_through_the_load_balancer(client):
    """HAProxy on 127.0.0.1:8080 forwards /readyz to a web process whose checks all pass."""
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert str(client.base_url).startswith("http://127.0.0.1:8080")


def test_every_prometheus_target_is_up(stack):
    """Prometheus scrapes both web processes, every chart pool, the exporter, PgBouncer, Redis."""
    targets = httpx.get(f"{stack.prometheus_url}/api/v1/targets", timeout=10).json()["data"]
    active = targets["activeTargets"]
    assert [t["scrapeUrl"] for t in active if t["health"] != "up"] == []
    jobs = {}
    for target in active:
        jobs.setdefault(target["labels"]["job"], []).append(target["labels"])
    assert set(jobs) == {"bazaar-web", "bazaar-worker", "bazaar-exporter", "pgbouncer", "redis"}
    assert len(jobs["bazaar-web"]) == 2
    assert sorted(t["pool"] for t in jobs["bazaar-worker"]) == sorted(
        pool.name for pool in chart_worker_pools()
    )


def test_prometheus_loaded_the_repository_rules(stack):
    """The alert and recording rules of observability/prometheus/rules are loaded and healthy."""
    groups = httpx.get(f"{stack.prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    assert [r["name"] for r in rules if r["health"] == "err"] == []


def test_checkout_through_the_load_balancer_ends_paid_with_an_email(stack, client):
    """register → token → cart → order (Idempotency-Key) → the workers capture it → paid + mail."""
    checkout = checkout_until_paid(client, timeout=PAYMENT_TIMEOUT)

    def mail_to_customer():
        return [m for m in stack.messages() if checkout.email in str(m["To"])]

    assert wait_for(mail_to_customer, PAYMENT_TIMEOUT), "no email reached the SMTP sink"


def test_requests_are_served_by_both_web_processes(client):
    """Round robin over two healthy backends: each answers some of a handful of requests."""
    served_by = {client.get("/api/v1/products/").headers["X-Served-By"] for _ in range(10)}
    assert served_by == {"web-1", "web-2"}


def test_running_up_again_keeps_the_running_stack(stack):
    """A second `make stack` detects the healthy stack and starts nothing new."""
    before = {p["name"]: p["pid"] for p in stack.state["processes"]}
    result = run_stack_command("up")
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stdout
    assert {p["name"]: p["pid"] for p in stack.state["processes"]} == before


def test_down_leaves_no_process_or_port_then_up_restores_the_data(stack, client):
    """`make stack-down` stops every process group and frees every port; `up` brings the same
    data back (runs last: the session's later users get the restarted stack)."""
    state = stack.state
    user = {"email": f"persist-{uuid.uuid4().hex[:12]}@example.com", "password": uuid.uuid4().hex}
    assert client.post("/api/v1/auth/register/", json=user).status_code == 201
    stack_ports = state["ports"]
    processes = [RunningProcess(**p) for p in state["processes"]]
    pids = {member.pid for p in processes for member in p.group_members()}

    result = run_stack_command("down", timeout=300)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in processes if p.is_alive() or p.group_members()] == []
    assert [pid for pid in pids if _is_running(pid)] == []
    assert port_is_free(stack_ports["load_balancer"]) and port_is_free(stack_ports["prometheus"])
    # Internal ports may be bound again by other programs, but never by what the stack ran.
    listeners = psutil.net_connections(kind="tcp")
    ours = [c.laddr.port for c in listeners if c.status == psutil.CONN_LISTEN and c.pid in pids]
    assert ours == []

    result = run_stack_command("up")
    assert result.returncode == 0, result.stdout + result.stderr
    token = httpx.post(f"{stack.shop_url}api/v1/auth/token/", json=user, timeout=15)
    assert token.status_code == 200, "the user registered before `down` is still there"


def _is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
