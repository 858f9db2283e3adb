"""Checkout to paid through the real pieces: Celery worker processes on Redis, the payment
simulator over HTTP, Postgres behind PgBouncer and the SMTP sink."""

import json
import os
import time
import uuid

import httpx
import psutil
import pytest
from django.conf import settings

from bazaar.accounts.tests.factories import UserFactory
from bazaar.catalog.models import Product
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.common.models import OutboxMessage
from bazaar.orders.models import Order
from bazaar.orders.tests.factories import fill_cart
from bazaar.orders.tests.test_checkout import _in_parallel, checkout
from bazaar.payments.gateways import signatures
from bazaar.payments.models import Payment
from conftest import client_for
from tests.plugins.processes import ManagedProcess
from tests.plugins.services import APP_DIR, TEST_SETTINGS_MODULE, launcher_command

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(services, psp):
    """A clean broker, simulator and mailbox for each test."""
    services.redis.client(1).flushdb()
    services.smtp.clear()
    httpx.post(f"{psp.url}/_sim/reset").raise_for_status()
    return services


def sim_config(psp, **changes) -> None:
    httpx.post(f"{psp.url}/_sim/config", json=changes).raise_for_status()


def sim_charges(psp) -> dict:
    return httpx.get(f"{psp.url}/_sim/charges").json()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def order_status(order_id) -> str:
    return Order.objects.get(pk=order_id).status


def place_order(product=None, quantity: int = 1) -> tuple[str, str]:
    shopper = UserFactory()
    fill_cart(shopper, (product or ProductFactory(stock=100), quantity))
    response = checkout(client_for(shopper))
    assert response.status_code == 201, response.content
    return response.json()["id"], shopper.email


def test_checkout_ends_paid_with_the_email_in_the_sink(shop, psp, celery_worker):
    celery_worker()
    order_id, email = place_order()
    wait_for(lambda: order_status(order_id) == "paid", what="order paid")
    (message,) = shop.smtp.wait_for_messages(1)
    assert message["To"] == email
    assert order_id[:8] in message["Subject"]
    assert sim_charges(psp)["count"] == 1
    payment = Payment.objects.get(order_id=order_id)
    assert (payment.status, payment.attempts) == ("succeeded", 1)


def test_twenty_parallel_posts_with_one_key_capture_once(shop, psp, celery_worker):
    celery_worker()
    shopper = UserFactory()
    fill_cart(shopper, (ProductFactory(stock=10), 1))
    client = client_for(shopper)
    responses = _in_parallel(20, lambda i: checkout(client, key="same-key"))
    assert {r.status_code for r in responses} == {201}
    order_id = responses[0].json()["id"]
    wait_for(lambda: order_status(order_id) == "paid", what="order paid")
    shop.smtp.wait_for_messages(1)
    assert Order.objects.count() == 1
    charges = sim_charges(psp)
    assert charges["count"] == 1
    assert [c["reference"] for c in charges["charges"]] == [order_id]


def test_declined_card_fails_the_order_and_restores_stock(shop, psp, celery_worker):
    sim_config(psp, decline_rate=1.0)
    celery_worker()
    product = ProductFactory(stock=3)
    order_id, _ = place_order(product, quantity=2)
    wait_for(lambda: order_status(order_id) == "payment_failed", what="payment_failed")
    product.refresh_from_db()
    assert product.stock == 3
    assert Payment.objects.get(order_id=order_id).failure_code == "card_declined"
    assert shop.smtp.messages() == []


def test_transient_provider_errors_are_retried_until_paid(shop, psp, celery_worker):
    sim_config(psp, failure_rate=0.6)
    celery_worker(
        extra_env={"PAYMENT_CAPTURE_BACKOFF_MAX": "1", "PAYMENT_CAPTURE_MAX_RETRIES": "30"}
    )
    order_ids = [place_order()[0] for _ in range(5)]
    wait_for(
        lambda: all(order_status(o) == "paid" for o in order_ids), timeout=120, what="all paid"
    )
    assert sim_charges(psp)["count"] == 5, "each order charged exactly once"
    assert sum(p.attempts for p in Payment.objects.all()) > 5, "some captures were retried"


def test_a_capture_whose_worker_process_is_killed_is_redelivered_and_captured_once(
    shop, psp, celery_worker
):
    sim_config(psp, latency_ms=3000)
    worker = celery_worker(concurrency=1)
    order_id, _ = place_order()
    wait_for(
        lambda: Payment.objects.filter(order_id=order_id, status="processing").exists(),
        what="capture in flight",
    )
    children = psutil.Process(worker.pid).children(recursive=True)
    assert children, "the prefork pool has a child running the task"
    for child in children:
        child.kill()
    sim_config(psp, latency_ms=0)
    wait_for(lambda: order_status(order_id) == "paid", timeout=90, what="order paid after kill")
    keys = sim_charges(psp)
    assert keys["count"] == 1
    assert keys["idempotency_keys"][f"capture-{order_id}"]["attempts"] >= 1
    assert Payment.objects.get(order_id=order_id).attempts >= 2, "the task ran again"
    shop.smtp.wait_for_messages(1)


def start_beat(services) -> ManagedProcess:
    work_dir = services.new_worker_dir("beat")
    beat = ManagedProcess(
        "beat",
        [*launcher_command(), "beat"],
        log_dir=services.log_dir,
        cwd=APP_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": TEST_SETTINGS_MODULE,
            "CELERY_BEAT_TICK_FILE": str(work_dir / "tick"),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(work_dir / "schedule"),
            "CELERY_BEAT_MAX_LOOP_INTERVAL": "1",
        },
        ready_file=work_dir / "tick",
    )
    return beat.start(60)


def test_orders_placed_while_redis_is_down_are_captured_and_emailed_after(shop, psp, celery_worker):
    shop.redis.stop()
    try:
        order_ids = [place_order()[0] for _ in range(3)]
        assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 3
    finally:
        shop.redis.start()
    celery_worker()
    beat = start_beat(shop)
    try:
        wait_for(lambda: all(order_status(o) == "paid" for o in order_ids), timeout=90, what="paid")
        shop.smtp.wait_for_messages(3)
    finally:
        beat.stop()
    assert sim_charges(psp)["count"] == 3
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 0


def signed(payload: dict, *, secret: str | None = None, timestamp: int | None = None):
    body = json.dumps(payload).encode()
    header = signatures.sign(
        body, secret or settings.PAYMENT_WEBHOOK_SECRET, timestamp or int(time.time())
    )
    return body, header


def test_webhooks_are_verified_and_idempotent(api_client, shop, psp):
    order_id, _ = place_order()
    order = Order.objects.get(pk=order_id)
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "charge.succeeded",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "ch_test",
                "status": "succeeded",
                "amount": str(order.total),
                "currency": order.currency,
                "reference": order_id,
                "failure_code": None,
                "created": int(time.time()),
            }
        },
    }

    def post(body, header):
        return api_client.generic(
            "POST",
            "/api/v1/payments/webhook/",
            body,
            content_type="application/json",
            HTTP_BAZAAR_SIGNATURE=header,
        )

    forged_body, forged = signed(event, secret="not-the-secret")
    assert post(forged_body, forged).status_code == 401
    stale_body, stale = signed(event, timestamp=int(time.time()) - 3600)
    assert post(stale_body, stale).status_code == 401
    assert order_status(order_id) == "pending_payment"

    body, header = signed(event)
    first = post(body, header)
    assert first.status_code == 200
    assert first.json() == {"received": True, "duplicate": False}
    assert order_status(order_id) == "paid"
    replay = post(body, header)
    assert replay.json() == {"received": True, "duplicate": True}
    tampered = body.replace(b"succeeded", b"failed", 1)
    assert post(tampered, header).status_code == 401
    assert order_status(order_id) == "paid"
    assert Product.objects.count() == 1
