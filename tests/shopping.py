"""The README's shopping journey, for every suite that proves a deployment end to end (the
stack, the image, docker compose, the cluster): register, sign in, fill the cart, check out
with an ``Idempotency-Key``, and wait until the workers have captured the payment."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, interval: float = 1.0) -> T:
    """Poll ``condition`` until it returns something truthy or ``timeout`` passes; the last
    value either way."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@dataclass
class Checkout:
    email: str
    order: dict


def checkout_until_paid(client: httpx.Client, *, timeout: float) -> Checkout:
    """A new shopper buys one unit of the first product in stock; the order as it ends paid
    (an AssertionError says where the journey stopped)."""
    email = f"shopper-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Shop-{uuid.uuid4().hex}"
    registered = client.post("/api/v1/auth/register/", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    token = client.post("/api/v1/auth/token/", json={"email": email, "password": password})
    assert token.status_code == 200, token.text
    auth = {"Authorization": f"Bearer {token.json()['access']}"}

    products = client.get("/api/v1/products/?in_stock=true").json()["results"]
    assert products, "no product in stock"
    added = client.post(
        "/api/v1/cart/items/", json={"product": products[0]["slug"], "quantity": 1}, headers=auth
    )
    assert added.status_code in {200, 201}, added.text
    created = client.post(
        "/api/v1/orders/", json={}, headers={**auth, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert created.status_code == 201, created.text
    order_url = f"/api/v1/orders/{created.json()['id']}/"

    def paid_order() -> dict | None:
        order = client.get(order_url, headers=auth).json()
        return order if order["status"] == "paid" else None

    order = wait_for(paid_order, timeout)
    assert order, f"not paid after {timeout}s: {client.get(order_url, headers=auth).json()}"
    assert order["paid_at"]
    return Checkout(email, order)
