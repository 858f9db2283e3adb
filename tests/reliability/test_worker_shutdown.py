"""SIGTERM to a Celery worker busy with captures: every task completes exactly once and the
broker keeps no unacknowledged message."""

from __future__ import annotations

import pytest

from bazaar.accounts.tests.factories import UserFactory
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.orders.models import Order
from bazaar.orders.tests.factories import fill_cart
from bazaar.payments.models import Payment

from .conftest import checkout, client, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = 6
PROVIDER_LATENCY_MS = 1500


def place_orders(shop, count: int) -> list[str]:
    product = ProductFactory(stock=count)
    order_ids = []
    for _ in range(count):
        shopper = UserFactory()
        fill_cart(shopper, (product, 1))
        with client(shop.url, shopper) as http:
            response = checkout(http)
        assert response.status_code == 201, response.text
        order_ids.append(response.json()["id"])
    return order_ids


def unacked_messages(services) -> int:
    broker = services.redis.client(1)
    return broker.hlen("unacked") + broker.zcard("unacked_index")


def test_sigterm_to_a_busy_worker_completes_every_capture_exactly_once(
    fresh_shop, celery_worker, figures
):
    fresh_shop.configure_psp(latency_ms=PROVIDER_LATENCY_MS)
    celery_worker("notifications", queues=["default", "notifications"])
    payments = celery_worker("payments", queues=["payments"], concurrency=2)
    order_ids = place_orders(fresh_shop, ORDERS)
    wait_for(
        lambda: Payment.objects.filter(status="processing").count() == 2,
        timeout=30,
        what="two captures in flight",
    )
    in_flight = set(Payment.objects.filter(status="processing").values_list("order_id", flat=True))

    # Warm shutdown: the running captures finish, the reserved messages go back to the queue.
    assert payments.stop(timeout=60) == 0, payments.log_tail()
    assert Payment.objects.filter(order_id__in=in_flight, status="succeeded").count() == 2
    assert unacked_messages(fresh_shop.services) == 0

    fresh_shop.configure_psp(latency_ms=0)
    celery_worker("payments", queues=["payments"], concurrency=2)
    wait_for(
        lambda: Order.objects.filter(pk__in=order_ids, status="paid").count() == ORDERS,
        timeout=60,
        what="every order paid",
    )
    fresh_shop.services.smtp.wait_for_messages(ORDERS)

    charges = fresh_shop.psp_charges()
    attempts = [key["attempts"] for key in charges["idempotency_keys"].values()]
    runs = list(Payment.objects.values_list("attempts", flat=True))
    figures.record("worker shutdown", "captures in flight at SIGTERM", len(in_flight))
    figures.record("worker shutdown", "orders paid", ORDERS)
    figures.record("worker shutdown", "charges", charges["count"])
    figures.record("worker shutdown", "capture runs per order (max)", max(runs))
    figures.record("worker shutdown", "unacked messages", unacked_messages(fresh_shop.services))
    assert charges["count"] == ORDERS
    assert attempts == [1] * ORDERS, "the provider was asked once per order"
    assert runs == [1] * ORDERS, "each capture task ran once"
    assert len(fresh_shop.services.smtp.messages()) == ORDERS
    assert unacked_messages(fresh_shop.services) == 0
