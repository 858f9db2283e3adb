"""A flaky, slow and declining payment provider: captures retry with backoff, nothing is
charged twice, every order ends paid or payment_failed, and webhooks that are replayed,
forged or contradict a finished payment change nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest
from django.conf import settings

from bazaar.catalog.models import Product
from bazaar.orders.models import Order
from bazaar.payments.gateways import signatures
from bazaar.payments.models import Payment

from .conftest import INGRESS_HEADERS, client, wait_for
from .test_worker_shutdown import place_orders

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = 24
FINAL = {"paid", "payment_failed"}


def test_flaky_provider_every_order_ends_paid_or_failed_and_nobody_pays_twice(
    fresh_shop, celery_worker, figures
):
    fresh_shop.configure_psp(failure_rate=0.45, decline_rate=0.15, latency_ms="10-400")
    celery_worker(
        "payments",
        queues=["payments", "default", "notifications"],
        concurrency=4,
        # Short backoff so the run stays bounded; few retries so some orders use them all up.
        extra_env={"PAYMENT_CAPTURE_BACKOFF_MAX": "0.5", "PAYMENT_CAPTURE_MAX_RETRIES": "3"},
    )
    order_ids = place_orders(fresh_shop, ORDERS)
    product = Product.objects.get(pk=Order.objects.get(pk=order_ids[0]).lines.get().product_id)

    wait_for(
        lambda: (
            set(Order.objects.filter(pk__in=order_ids).values_list("status", flat=True)) <= FINAL
        ),
        timeout=120,
        what="every order paid or payment_failed",
    )
    statuses = Counter(Order.objects.filter(pk__in=order_ids).values_list("status", flat=True))
    charges = fresh_shop.psp_charges()
    succeeded = Counter(c["reference"] for c in charges["charges"] if c["status"] == "succeeded")
    paid = set(
        map(str, Order.objects.filter(pk__in=order_ids, status="paid").values_list("pk", flat=True))
    )
    failures = Counter(
        Payment.objects.filter(order_id__in=order_ids, status="failed").values_list(
            "failure_code", flat=True
        )
    )
    attempts = sum(
        Payment.objects.filter(order_id__in=order_ids).values_list("attempts", flat=True)
    )

    figures.record("provider failures", "orders", ORDERS)
    figures.record("provider failures", "paid", statuses["paid"])
    figures.record("provider failures", "payment_failed", dict(failures))
    figures.record("provider failures", "capture attempts", attempts)
    figures.record(
        "provider failures", "charges succeeded at the provider", sum(succeeded.values())
    )
    assert sum(statuses.values()) == ORDERS and set(statuses) <= FINAL
    assert attempts > ORDERS, "transient failures were retried"
    assert set(succeeded) == paid, "paid exactly when the provider captured"
    assert max(succeeded.values(), default=1) == 1, "no order charged twice"
    product.refresh_from_db()
    assert product.stock == statuses["payment_failed"], "failed orders gave their stock back"
    fresh_shop.services.smtp.wait_for_messages(statuses["paid"])
    assert len(fresh_shop.services.smtp.messages()) == statuses["paid"]


def signed_event(order: Order, *, status: str, secret: str | None = None) -> tuple[bytes, str]:
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": f"charge.{status}",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"ch_{uuid.uuid4().hex[:12]}",
                "status": status,
                "amount": str(order.total),
                "currency": order.currency,
                "reference": str(order.pk),
                "failure_code": None if status == "succeeded" else "card_declined",
                "created": int(time.time()),
            }
        },
    }
    body = json.dumps(event).encode()
    return body, signatures.sign(body, secret or settings.PAYMENT_WEBHOOK_SECRET, int(time.time()))


def test_replayed_forged_and_contradicting_webhooks_change_nothing(
    fresh_shop, celery_worker, figures
):
    celery_worker()
    (order_id,) = place_orders(fresh_shop, 1)
    wait_for(lambda: Order.objects.get(pk=order_id).status == "paid", timeout=60, what="paid")
    order = Order.objects.get(pk=order_id)
    charges_before = fresh_shop.psp_charges()["count"]

    def post(body: bytes, signature: str):
        with client(fresh_shop.url) as http:
            return http.post(
                "/api/v1/payments/webhook/",
                content=body,
                headers={
                    **INGRESS_HEADERS,
                    "Content-Type": "application/json",
                    signatures.SIGNATURE_HEADER: signature,
                },
            )

    forged = post(*signed_event(order, status="failed", secret="whsec_attacker"))
    contradicting_body, contradicting_signature = signed_event(order, status="failed")
    contradicting = post(contradicting_body, contradicting_signature)
    replayed = post(contradicting_body, contradicting_signature)
    stale_body, _ = signed_event(order, status="failed")
    stale = post(
        stale_body,
        signatures.sign(stale_body, settings.PAYMENT_WEBHOOK_SECRET, int(time.time()) - 3600),
    )

    figures.record(
        "webhooks",
        "forged / contradicting / replayed / stale",
        [forged.status_code, contradicting.status_code, replayed.status_code, stale.status_code],
    )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_signature"
    assert stale.status_code == 401
    assert (contradicting.status_code, contradicting.json()["duplicate"]) == (200, False)
    assert (replayed.status_code, replayed.json()["duplicate"]) == (200, True)
    order.refresh_from_db()
    assert order.status == "paid"
    assert Payment.objects.get(order_id=order_id).status == "succeeded"
    assert fresh_shop.psp_charges()["count"] == charges_before
