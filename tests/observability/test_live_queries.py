"""Every dashboard query and recording rule returns data from a Prometheus that scraped the stack.

The stack (`python -m tools.stack up`) is brought up unless it already runs, a short shopping load
goes through the load balancer, and then each query runs against the stack's Prometheus. An
empty result fails: it means a panel would be blank or a rule would record nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.observability.queries import (
    REPO_ROOT,
    Query,
    dashboard_queries,
    recording_rules,
    variable_queries,
)

pytestmark = pytest.mark.stack

BASE_URL = "http://127.0.0.1:8080"
PROMETHEUS_URL = "http://127.0.0.1:9090"
SHOPPERS = 4
JOURNEYS_PER_SHOPPER = 5
# Long enough for several 5 s scrapes and rule evaluations after the load.
DATA_DEADLINE_SECONDS = 120


def stack_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.stack", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def stack():
    """The running stack; started (and stopped afterwards) only if it was not running."""
    already_running = stack_command("status").returncode == 0
    if not already_running:
        started = stack_command("up")
        assert started.returncode == 0, started.stdout + started.stderr
    yield
    if not already_running:
        stack_command("down")


def shop_once(client: httpx.Client) -> None:
    """Register, browse, fill a cart, check out, list and cancel: the routes the panels show."""
    email = f"load-{uuid.uuid4().hex[:12]}@bazaar.test"
    password = uuid.uuid4().hex
    client.post("/api/v1/auth/register/", json={"email": email, "password": password})
    token = client.post("/api/v1/auth/token/", json={"email": email, "password": password})
    headers = {"Authorization": f"Bearer {token.json().get('access', '')}"}
    client.get("/api/v1/categories/")
    products = client.get("/api/v1/products/").json().get("results", [])
    client.get("/api/v1/products/no-such-product/")
    for product in products[:2]:
        client.get(f"/api/v1/products/{product['slug']}/")
        client.post(
            "/api/v1/cart/items/",
            json={"product": product["slug"], "quantity": 1},
            headers=headers,
        )
    order = client.post(
        "/api/v1/orders/", json={}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    client.get("/api/v1/orders/", headers=headers)
    if order.status_code == 201:
        client.post(f"/api/v1/orders/{order.json()['id']}/cancel/", headers=headers)


def run_load() -> None:
    def shopper(_: int) -> None:
        with httpx.Client(base_url=BASE_URL, timeout=10) as client:
            for _ in range(JOURNEYS_PER_SHOPPER):
                shop_once(client)

    with ThreadPoolExecutor(SHOPPERS) as pool:
        list(pool.map(shopper, range(SHOPPERS)))


def query_prometheus(expr: str) -> list[dict]:
    response = httpx.get(f"{PROMETHEUS_URL}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body.get("status") == "success", f"{expr}: {body.get('error')}"
    return body["data"]["result"]


def assert_returns_data(query: Query) -> None:
    assert query_prometheus(query.expr), f"{query.source} returned no data:\n{query.expr}"


@pytest.fixture(scope="module")
def loaded_prometheus(stack):
    """Prometheus after a shopping load, once the load shows up in its recording rules."""
    run_load()
    deadline = time.monotonic() + DATA_DEADLINE_SECONDS
    evidence = "sum(view_method:django_http_requests:rate5m{view='order-list'}) > 0"
    while not query_prometheus(evidence):
        if time.monotonic() > deadline:
            pytest.fail("the load never reached Prometheus's recording rules")
        time.sleep(2)
    return PROMETHEUS_URL


@pytest.mark.parametrize("query", recording_rules(), ids=lambda query: query.source)
def test_recording_rule_returns_data(loaded_prometheus, query):
    assert_returns_data(query)


@pytest.mark.parametrize(
    "query", dashboard_queries() + variable_queries(), ids=lambda query: query.source
)
def test_dashboard_query_returns_data(loaded_prometheus, query):
    assert_returns_data(query)


def test_a_query_for_a_missing_metric_fails(loaded_prometheus):
    """The check is not vacuous: a misspelt metric name is reported."""
    misspelt = Query("misspelt", "sum(rate(bazaar_orders_creatd_total[1m]))")
    with pytest.raises(AssertionError, match="returned no data"):
        assert_returns_data(misspelt)
