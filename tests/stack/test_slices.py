"""`make stack SLICES=1`: one web process per web slice behind HAProxy, routed by path.

The README's curl flow goes through the load balancer and every request is answered by the
process of its slice: HAProxy names the backend (``X-Served-By``), each process refuses the
other slices' paths itself, and Prometheus sees each view's requests only under its slice's
``slice`` label. Slow (a whole stack): marked ``stack``.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from bazaar.common.slices import DEFAULT_SLICE, SLICES, slice_of
from tests.observability.queries import dashboard_queries
from tools.stack.processes import wait_until

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1200)]

PAYMENT_TIMEOUT = 90
SCRAPE_TIMEOUT = 60
# A page of each slice that answers without data: 200, or 401 without a token.
SLICE_PAGES = {
    "catalog": "/api/v1/categories/",
    "checkout": "/api/v1/cart/",
    "accounts": "/api/v1/auth/me/",
}


class ServedBy(httpx.Client):
    """A client through the load balancer that records which backend answered each path."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url=base_url, timeout=15)
        self.answered: list[tuple[str, str]] = []

    def request(self, method, url, **kwargs) -> httpx.Response:
        response = super().request(method, url, **kwargs)
        self.answered.append((response.request.url.path, response.headers.get("X-Served-By")))
        return response


@pytest.fixture(scope="module")
def flow(sliced_stack):
    """The README's curl flow through the load balancer, up to a paid order."""
    client = ServedBy(sliced_stack.shop_url)
    email = f"slices-{uuid.uuid4().hex[:12]}@example.com"
    credentials = {"email": email, "password": f"Slices-{uuid.uuid4().hex}"}
    assert client.post("/api/v1/auth/register/", json=credentials).status_code == 201
    token = client.post("/api/v1/auth/token/", json=credentials)
    assert token.status_code == 200, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access']}"

    search = client.get("/api/v1/products/", params={"q": "classic", "in_stock": "true"})
    assert search.status_code == 200, search.text
    assert client.get("/api/v1/categories/").status_code == 200
    products = client.get("/api/v1/products/", params={"in_stock": "true", "page_size": 1})
    slug = products.json()["results"][0]["slug"]
    assert client.get(f"/api/v1/products/{slug}/").status_code == 200
    assert client.get(f"/api/v1/products/{slug}/reviews/").status_code == 200
    added = client.post("/api/v1/cart/items/", json={"product": slug, "quantity": 1})
    assert added.status_code in {200, 201}, added.text
    created = client.post("/api/v1/orders/", json={}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]

    def paid():
        return client.get(f"/api/v1/orders/{order_id}/").json()["status"] == "paid"

    assert wait_until(paid, PAYMENT_TIMEOUT, 1), client.get(f"/api/v1/orders/{order_id}/").json()
    assert client.get("/api/v1/orders/").status_code == 200
    yield client
    client.close()


def test_the_readme_flow_is_served_path_by_path_by_each_slice(flow):
    """register → token → search → categories → product → reviews → cart → order → paid."""
    wrong = [
        (path, served_by)
        for path, served_by in flow.answered
        if served_by != f"web-{slice_of(path)}"
    ]
    assert wrong == []
    assert {served_by for _, served_by in flow.answered} == {f"web-{name}" for name in SLICES}


def test_every_other_path_reaches_the_default_slice_and_is_a_404_envelope(sliced_stack):
    response = httpx.get(f"{sliced_stack.shop_url}no/such/page/", timeout=15)
    assert response.headers["X-Served-By"] == f"web-{DEFAULT_SLICE}"
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    docs = httpx.get(f"{sliced_stack.shop_url}api/docs/", timeout=15)
    assert (docs.status_code, docs.headers["X-Served-By"]) == (200, "web-accounts")


@pytest.mark.parametrize("name", sorted(SLICES))
def test_each_slice_process_answers_only_its_own_paths(sliced_stack, name):
    """Straight to the process, past the load balancer: its own page answers, every other
    slice's page is a 404 in the envelope."""
    url = f"http://127.0.0.1:{sliced_stack.ports[f'web_{name}']}/"
    assert httpx.get(f"{url}readyz", timeout=15).status_code == 200
    assert httpx.get(f"{url}{SLICE_PAGES[name].lstrip('/')}", timeout=15).status_code in {200, 401}
    for other, page in SLICE_PAGES.items():
        if other != name:
            response = httpx.get(f"{url}{page.lstrip('/')}", timeout=15)
            assert response.status_code == 404, (name, page)
            assert response.json()["error"]["code"] == "not_found"


def test_prometheus_counts_each_view_under_its_own_slice(sliced_stack, flow):
    """The per-slice request metrics: each route the flow used was counted by its slice's
    process only (the ``slice`` target label), never by another slice."""
    query = "sum by (slice, view) (django_http_responses_total_by_status_view_method_total)"
    expected = {
        "product-list": "catalog",
        "category-list": "catalog",
        "product-reviews": "catalog",
        "cart-items": "checkout",
        "order-list": "checkout",
        "auth-token": "accounts",
        "auth-register": "accounts",
    }

    seen: dict[str, set[str]] = {}

    def scraped() -> bool:
        result = httpx.get(
            f"{sliced_stack.prometheus_url}/api/v1/query", params={"query": query}, timeout=10
        ).json()["data"]["result"]
        seen.clear()
        for series in result:
            view = re.sub(r"^.+:", "", series["metric"].get("view", ""))
            seen.setdefault(view, set()).add(series["metric"].get("slice", ""))
        return set(expected) <= set(seen)

    assert wait_until(scraped, SCRAPE_TIMEOUT, 1), f"Prometheus has not scraped the flow: {seen}"
    assert {view: seen[view] for view in expected} == {
        view: {name} for view, name in expected.items()
    }
    targets = httpx.get(f"{sliced_stack.prometheus_url}/api/v1/targets", timeout=10).json()
    web = [
        t["labels"] for t in targets["data"]["activeTargets"] if t["labels"]["job"] == "bazaar-web"
    ]
    assert sorted(t["slice"] for t in web) == sorted(SLICES)


def test_the_api_dashboards_slice_panels_show_every_slice(sliced_stack, flow):
    """The API dashboard's per-slice panels, run against this stack's Prometheus, draw one line
    per slice."""
    queries = [
        query
        for query in dashboard_queries()
        if query.source.startswith("api:") and ("by slice" in query.source)
    ]
    assert len(queries) == 2

    def every_slice(expr: str) -> bool:
        result = httpx.get(
            f"{sliced_stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10
        ).json()["data"]["result"]
        return {series["metric"].get("slice") for series in result} == set(SLICES)

    for query in queries:
        assert wait_until(lambda q=query: every_slice(q.expr), SCRAPE_TIMEOUT, 1), query.source
