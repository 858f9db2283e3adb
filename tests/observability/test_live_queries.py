"""Every dashboard query and recording rule returns data from a Prometheus that scraped the stack.

The session's ``stack`` fixture (tests/plugins/stack.py) brings `make stack` up, or reuses the
one already running. A short, bounded shopping load then goes through the load balancer: every
route the panels show, a checkout refused because the cart is empty (a checkout conflict) and one
payment the simulator declines (a payment failure). Each query then runs against the stack's
Prometheus; an empty result fails, because it means a panel would be blank or a rule would
record nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from tests.observability.queries import (
    Query,
    dashboard_queries,
    recording_rules,
    variable_queries,
)

pytestmark = pytest.mark.stack

SHOPPERS = 3
JOURNEYS_PER_SHOPPER = 4
# Long enough for several 5 s scrapes and rule evaluations after the load.
DATA_DEADLINE_SECONDS = 120
ORDER_SETTLED_DEADLINE_SECONDS = 30
# The auth endpoints are throttled per client address, and other suites share the stack.
THROTTLED_ATTEMPTS = 5

ALL_QUERIES = recording_rules() + dashboard_queries() + variable_queries()


def post_unthrottled(client: httpx.Client, path: str, **kwargs) -> httpx.Response:
    """POST, waiting out a 429 as a well-behaved client does (``Retry-After``)."""
    for _ in range(THROTTLED_ATTEMPTS):
        response = client.post(path, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("Retry-After", "5")))
    return response


def signed_in_client(shop_url: str) -> httpx.Client:
    """A client for a newly registered shopper, carrying its access token."""
    client = httpx.Client(base_url=shop_url, timeout=10)
    credentials = {
        "email": f"load-{uuid.uuid4().hex[:12]}@bazaar.test",
        "password": uuid.uuid4().hex,
    }
    registered = post_unthrottled(client, "/api/v1/auth/register/", json=credentials)
    assert registered.status_code == 201, registered.text
    token = post_unthrottled(client, "/api/v1/auth/token/", json=credentials)
    assert token.status_code == 200, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access']}"
    return client


def checkout(client: httpx.Client) -> httpx.Response:
    return client.post("/api/v1/orders/", json={}, headers={"Idempotency-Key": uuid.uuid4().hex})


def fill_cart(client: httpx.Client) -> None:
    products = client.get("/api/v1/products/", params={"in_stock": "true"}).json()["results"]
    for product in products[:2]:
        client.get(f"/api/v1/products/{product['slug']}/")
        client.post("/api/v1/cart/items/", json={"product": product["slug"], "quantity": 1})


def wait_until_settled(client: httpx.Client, order_id: str) -> str:
    """The order's status once the payment task has run (paid or payment_failed)."""
    deadline = time.monotonic() + ORDER_SETTLED_DEADLINE_SECONDS
    while True:
        status = client.get(f"/api/v1/orders/{order_id}/").json()["status"]
        if status != "pending_payment" or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def shop_once(client: httpx.Client) -> None:
    """Browse, fill the cart, check out, look at the orders; cancel (refused once paid) and
    check out the now empty cart (a conflict)."""
    client.get("/api/v1/categories/")
    client.get("/api/v1/products/", params={"q": "a", "ordering": "price"})
    client.get("/api/v1/products/no-such-product/")
    client.get("/api/v1/cart/")
    fill_cart(client)
    order = checkout(client)
    client.get("/api/v1/orders/")
    if order.status_code == 201:
        client.get(f"/api/v1/orders/{order.json()['id']}/")
        client.post(f"/api/v1/orders/{order.json()['id']}/cancel/")
    checkout(client)


@contextmanager
def payments_declined(psp_url: str) -> Iterator[None]:
    """Every charge declined while inside; the simulator's previous settings restored after.

    The stack may be shared, so the window is kept to the one checkout that needs it.
    """
    previous = httpx.get(f"{psp_url}/_sim/config", timeout=5).json()
    httpx.post(f"{psp_url}/_sim/config", json={"decline_rate": 1}, timeout=5).raise_for_status()
    try:
        yield
    finally:
        httpx.post(
            f"{psp_url}/_sim/config", json={"decline_rate": previous["decline_rate"]}, timeout=5
        ).raise_for_status()


def run_load(shop_url: str, psp_url: str) -> None:
    clients = [signed_in_client(shop_url) for _ in range(SHOPPERS)]
    try:
        with ThreadPoolExecutor(SHOPPERS) as pool:
            for finished in pool.map(
                lambda client: [shop_once(client) for _ in range(JOURNEYS_PER_SHOPPER)], clients
            ):
                assert finished
        declined_shopper = clients[0]
        fill_cart(declined_shopper)
        with payments_declined(psp_url):
            order = checkout(declined_shopper)
            assert order.status_code == 201, order.text
            status = wait_until_settled(declined_shopper, order.json()["id"])
        assert status == "payment_failed", f"a declined payment left the order {status}"
    finally:
        for client in clients:
            client.close()


def query_prometheus(prometheus_url: str, expr: str) -> list[dict]:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body.get("status") == "success", f"{expr}: {body.get('error')}"
    return body["data"]["result"]


@pytest.fixture(scope="module")
def prometheus_after_load(stack) -> str:
    """The stack's Prometheus once every query has data, or the deadline has passed (the
    queries still empty then fail their own test)."""
    run_load(stack.shop_url.rstrip("/"), stack.state["urls"]["psp"])
    deadline = time.monotonic() + DATA_DEADLINE_SECONDS
    pending = list(ALL_QUERIES)
    while pending and time.monotonic() < deadline:
        pending = [q for q in pending if not query_prometheus(stack.prometheus_url, q.expr)]
        if pending:
            time.sleep(5)
    return stack.prometheus_url


def assert_returns_data(prometheus_url: str, query: Query) -> None:
    result = query_prometheus(prometheus_url, query.expr)
    assert result, f"{query.source} returned no data:\n{query.expr}"


@pytest.mark.parametrize("query", recording_rules(), ids=lambda query: query.source)
def test_recording_rule_returns_data(prometheus_after_load, query):
    assert_returns_data(prometheus_after_load, query)


@pytest.mark.parametrize(
    "query", dashboard_queries() + variable_queries(), ids=lambda query: query.source
)
def test_dashboard_query_returns_data(prometheus_after_load, query):
    assert_returns_data(prometheus_after_load, query)


def test_a_query_for_a_missing_metric_fails(prometheus_after_load):
    """The check is not vacuous: a misspelt metric name is reported."""
    misspelt = Query("misspelt", "sum(rate(bazaar_orders_creatd_total[1m]))")
    with pytest.raises(AssertionError, match="returned no data"):
        assert_returns_data(prometheus_after_load, misspelt)
