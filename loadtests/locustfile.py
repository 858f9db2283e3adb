"""The Bazaar journeys: anonymous browsers, shoppers who check out, API clients.

Request names are ``<route group>/<action>``; the SLO gates (``slo.yaml``) and the plots are
per route group. Test data comes from the file ``LOADTEST_DATA`` names, made up front by
``loadtests.prepare``; nothing is created inside the measured loop except what a real shopper
creates (cart lines and orders).

Weights give the default mix: 6 browsers : 3 shoppers : 1 API client.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from datetime import datetime
from pathlib import Path

from locust import FastHttpUser, between, constant_pacing, events, task
from locust.env import Environment

from loadtests import recorder  # noqa: F401 - registers the per-group recording hooks

# The traffic mix needs variety, not secrecy.
rng = random.Random()  # noqa: S311
PAYMENT_POLL_SECONDS = 0.5
PAYMENT_TIMEOUT_SECONDS = 30


class TestData:
    """The prepared data; shopper accounts are dealt out so no two simulated users share one
    (they would share a cart), across every Locust process of a distributed run."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.accounts: list[dict] = data["accounts"]
        self.stocked_products: list[str] = data["stocked_products"]
        self.browse_products: list[str] = data["browse_products"]
        self.categories: list[str] = data["categories"]
        self.search_words: list[str] = data["search_words"]
        self._next_account = itertools.count()

    def take_account(self, environment: Environment) -> dict:
        processes = int(os.environ.get("LOADTEST_PROCESSES", "1"))
        worker_index = getattr(environment.runner, "worker_index", 0)
        index = worker_index + processes * next(self._next_account)
        if index >= len(self.accounts):
            raise RuntimeError(
                f"more shoppers than prepared accounts ({len(self.accounts)}): "
                "prepare at least as many accounts as users"
            )
        return self.accounts[index]


test_data: TestData | None = None


@events.init.add_listener
def _load_test_data(environment: Environment, **kwargs) -> None:
    global test_data
    path = os.environ.get("LOADTEST_DATA")
    if path:
        test_data = TestData(Path(path))


def _data() -> TestData:
    if test_data is None:
        raise RuntimeError("LOADTEST_DATA is not set: run through `python -m loadtests.run`")
    return test_data


class Browser(FastHttpUser):
    """An anonymous visitor: lists, searches and filters the catalog, opens products and
    reads their reviews."""

    weight = 6
    wait_time = between(1, 3)

    @task(4)
    def catalog_list(self) -> None:
        self.client.get("/api/v1/products/", name="read/catalog-list")

    @task(2)
    def search(self) -> None:
        word = rng.choice(_data().search_words)
        self.client.get(f"/api/v1/products/?q={word}", name="read/catalog-search")

    @task(2)
    def filter_by_category_and_price(self) -> None:
        category = rng.choice(_data().categories)
        self.client.get(
            f"/api/v1/products/?category={category}&max_price=200&in_stock=true&ordering=price",
            name="read/catalog-filter",
        )

    @task(4)
    def product_detail(self) -> None:
        slug = rng.choice(_data().browse_products)
        self.client.get(f"/api/v1/products/{slug}/", name="read/product-detail")

    @task(2)
    def product_reviews(self) -> None:
        slug = rng.choice(_data().browse_products)
        self.client.get(f"/api/v1/products/{slug}/reviews/", name="read/product-reviews")


class Shopper(FastHttpUser):
    """A signed-in customer: browses, fills a cart, checks out with an ``Idempotency-Key``
    and polls the order until the payment worker marks it paid."""

    weight = 3
    wait_time = between(1, 3)

    def on_start(self) -> None:
        account = _data().take_account(self.environment)
        self.auth = {"Authorization": f"Bearer {account['access']}"}
        # A cart left over from an interrupted run would change what this shopper buys.
        self.client.delete("/api/v1/cart/", headers=self.auth, name="cart/clear")

    @task
    def buy(self) -> None:
        data = _data()
        self.client.get("/api/v1/products/?in_stock=true", name="read/catalog-list")
        for slug in rng.sample(data.stocked_products, k=rng.randint(1, 2)):
            self.wait()
            self.client.get(f"/api/v1/products/{slug}/", name="read/product-detail")
            self.client.post(
                "/api/v1/cart/items/",
                json={"product": slug, "quantity": rng.randint(1, 2)},
                headers=self.auth,
                name="cart/add-item",
            )
        self.client.get("/api/v1/cart/", headers=self.auth, name="cart/view")
        self.wait()
        self.checkout()

    def checkout(self) -> None:
        headers = {**self.auth, "Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            "/api/v1/orders/", json={}, headers=headers, name="checkout/create-order",
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 201:
                response.failure(f"checkout answered {response.status_code}: {response.text}")
                return
            order_id = response.json()["id"]
        self.wait_until_paid(order_id)

    def wait_until_paid(self, order_id: int) -> None:
        """Poll the order until it leaves ``pending_payment``. The checkout-to-paid time is
        reported as ``payment/paid`` from the order's own ``created_at`` and ``paid_at``, so
        the poll interval does not round it."""
        deadline = time.monotonic() + PAYMENT_TIMEOUT_SECONDS
        order: dict = {}
        while time.monotonic() < deadline:
            time.sleep(PAYMENT_POLL_SECONDS)
            response = self.client.get(
                f"/api/v1/orders/{order_id}/", headers=self.auth, name="read/order-poll"
            )
            order = response.json() if response.ok else {}
            if order.get("status") != "pending_payment":
                break
        if order.get("status") == "paid":
            elapsed = datetime.fromisoformat(order["paid_at"]) - datetime.fromisoformat(
                order["created_at"]
            )
            milliseconds, error = elapsed.total_seconds() * 1000, None
        else:
            milliseconds = PAYMENT_TIMEOUT_SECONDS * 1000
            error = RuntimeError(f"order {order_id} ended {order.get('status')!r}, not paid")
        self.environment.events.request.fire(
            request_type="FLOW",
            name="payment/paid",
            response_time=milliseconds,
            response_length=0,
            exception=error,
            context={},
        )


class ApiClient(FastHttpUser):
    """A partner integration: walks the catalog with large cursor pages and sorted filters."""

    weight = 1
    wait_time = constant_pacing(2)

    @task
    def sync_catalog(self) -> None:
        category = rng.choice(_data().categories)
        url = f"/api/v1/products/?category={category}&ordering=-price&page_size=50"
        for _ in range(3):
            response = self.client.get(url, name="read/api-catalog-page")
            next_url = response.json().get("next") if response.ok else None
            if not next_url:
                break
            url = next_url
