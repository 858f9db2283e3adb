"""Checkout and the order lifecycle.

Checkout is one transaction: claim the idempotency key, lock the cart's products in id order,
check and take the stock, write the order with its lines, price snapshots and stock movements,
empty the cart, and write the payment capture to the outbox. The capture runs after commit.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bazaar.accounts.models import Address
from bazaar.carts import selectors as cart_selectors
from bazaar.carts import services as cart_services
from bazaar.catalog import services as catalog_services
from bazaar.common import metrics
from bazaar.common.errors import ApiError, Conflict, Unprocessable
from bazaar.common.money import quantize
from bazaar.common.outbox import outbox_enqueue

from . import selectors
from .models import IdempotencyKey, Order, OrderLine, StockMovement

logger = structlog.get_logger(__name__)
CAPTURE_TASK = "payments.capture_order_payment"
ORDER_PAID_EMAIL_TASK = "notifications.send_order_paid_email"


def request_fingerprint(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CheckoutResult:
    """Either a new order (``order``) or the stored response of an earlier request."""

    record: IdempotencyKey
    order: Order | None = None

    @property
    def replayed(self) -> bool:
        return self.order is None


def _replay(*, record: IdempotencyKey, fingerprint: str) -> CheckoutResult:
    if record.fingerprint != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was used with a different request body.",
            code="idempotency_key_reused",
        )
    if record.response_status is None:
        raise Conflict("A request with this Idempotency-Key is in progress.", code="in_progress")
    return CheckoutResult(record=record)


def order_checkout(
    *, user, idempotency_key: str, fingerprint: str, shipping_address: Address | None = None
) -> CheckoutResult:
    """Place an order from the user's cart. Must run inside ``transaction.atomic()`` so the
    caller can store the response in the same transaction (``idempotency_store_response``)."""
    existing = IdempotencyKey.objects.filter(user=user, key=idempotency_key).first()
    if existing is not None:
        return _replay(record=existing, fingerprint=fingerprint)
    try:
        # A concurrent request with the same key blocks on the unique index until the first
        # one commits, then lands here and replays its stored response.
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                user=user, key=idempotency_key, fingerprint=fingerprint
            )
    except IntegrityError:
        existing = IdempotencyKey.objects.get(user=user, key=idempotency_key)
        return _replay(record=existing, fingerprint=fingerprint)
    try:
        order = _place_order(user=user, shipping_address=shipping_address)
    except Conflict as exc:
        metrics.CHECKOUT_CONFLICTS.labels(reason=exc.error_code).inc()
        raise
    transaction.on_commit(metrics.ORDERS_CREATED.inc)
    logger.info("order_created", order_id=str(order.id), total=str(order.total))
    return CheckoutResult(record=record, order=order)


def idempotency_store_response(*, record: IdempotencyKey, status: int, body: dict) -> None:
    record.response_status = status
    record.response_body = body
    record.save(update_fields=["response_status", "response_body"])


def _place_order(*, user, shipping_address: Address | None) -> Order:
    cart = cart_selectors.cart_get_for_user(user=user)
    items = list(cart_selectors.cart_items(cart=cart))
    if not items:
        raise Conflict("Your cart is empty.", code="cart_empty")
    products = catalog_services.products_lock_for_checkout(
        product_ids=[item.product_id for item in items]
    )
    currencies = {products[item.product_id].currency for item in items}
    if len(currencies) > 1:
        raise Conflict("All products of one order must share a currency.", code="mixed_currency")

    lines = []
    for item in sorted(items, key=lambda item: item.product_id):
        product = products[item.product_id]
        if not product.is_active or product.deleted_at is not None:
            raise Conflict(f"{product.name} is no longer sold.", code="product_unavailable")
        catalog_services.product_change_stock(product=product, delta=-item.quantity)
        lines.append(
            OrderLine(
                product=product,
                product_name=product.name,
                product_slug=product.slug,
                unit_price=product.price,
                quantity=item.quantity,
                line_total=quantize(product.price * item.quantity),
            )
        )
    order = Order.objects.create(
        user=user,
        currency=currencies.pop(),
        total=quantize(sum((line.line_total for line in lines), Decimal(0))),
        shipping_address=shipping_address.as_snapshot() if shipping_address else {},
        expires_at=timezone.now() + timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES),
    )
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)
    StockMovement.objects.bulk_create(
        StockMovement(
            product=line.product,
            order=order,
            delta=-line.quantity,
            reason=StockMovement.Reason.CHECKOUT,
        )
        for line in lines
    )
    cart_services.cart_clear(cart=cart)
    outbox_enqueue(task_name=CAPTURE_TASK, kwargs={"order_id": str(order.id)})
    return order


def _release_stock(*, order: Order, reason: str) -> None:
    lines = list(order.lines.order_by("product_id"))
    products = catalog_services.products_lock_for_checkout(
        product_ids=[line.product_id for line in lines]
    )
    for line in lines:
        catalog_services.product_change_stock(
            product=products[line.product_id], delta=line.quantity
        )
    StockMovement.objects.bulk_create(
        StockMovement(product_id=line.product_id, order=order, delta=line.quantity, reason=reason)
        for line in lines
    )


def _transition(order: Order, status: str) -> None:
    if not order.can_become(status):
        raise Conflict(
            f"An order that is {order.status} cannot become {status}.",
            code="invalid_transition",
            details={"status": order.status},
        )
    if status in Order.RELEASES_STOCK:
        _release_stock(order=order, reason=status)
    order.status = status
    order.save(update_fields=["status", "updated_at", "paid_at"])


@transaction.atomic
def order_cancel(*, order_id) -> Order:
    from bazaar.payments import selectors as payment_selectors

    order = selectors.order_lock(order_id=order_id)
    if order.status == Order.Status.PENDING_PAYMENT and payment_selectors.payment_in_progress(
        order_id=order.pk
    ):
        raise Conflict(
            "The payment is being processed; try again shortly.", code="payment_in_progress"
        )
    _transition(order, Order.Status.CANCELLED)
    transaction.on_commit(metrics.ORDERS_CANCELLED.inc)
    return order


@transaction.atomic
def order_mark_paid(*, order_id) -> Order:
    """Called once the provider captured the money; idempotent."""
    order = selectors.order_lock(order_id=order_id)
    if order.status in {Order.Status.PAID, Order.Status.FULFILLED}:
        return order
    if order.status != Order.Status.PENDING_PAYMENT:
        logger.error(
            "payment_captured_for_closed_order", order_id=str(order.pk), status=order.status
        )
        raise ApiError("The order is closed.", code="order_closed")
    order.paid_at = timezone.now()
    _transition(order, Order.Status.PAID)
    outbox_enqueue(task_name=ORDER_PAID_EMAIL_TASK, kwargs={"order_id": str(order.pk)})
    transaction.on_commit(metrics.ORDERS_PAID.inc)
    logger.info("order_paid", order_id=str(order.pk))
    return order


@transaction.atomic
def order_mark_payment_failed(*, order_id, reason: str) -> Order:
    order = selectors.order_lock(order_id=order_id)
    if order.status != Order.Status.PENDING_PAYMENT:
        return order
    _transition(order, Order.Status.PAYMENT_FAILED)
    transaction.on_commit(lambda: metrics.PAYMENT_FAILURES.labels(reason=reason).inc())
    logger.warning("order_payment_failed", order_id=str(order.pk), reason=reason)
    return order


@transaction.atomic
def order_fulfill(*, order_id) -> Order:
    order = selectors.order_lock(order_id=order_id)
    _transition(order, Order.Status.FULFILLED)
    return order


def orders_expire_unpaid(*, now=None) -> int:
    """Expire orders left unpaid past their deadline and give their stock back."""
    from bazaar.payments import selectors as payment_selectors

    expired = 0
    for order_id in selectors.orders_due_to_expire(now=now).values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            order = selectors.order_lock(order_id=order_id)
            if order.status != Order.Status.PENDING_PAYMENT:
                continue
            if payment_selectors.payment_in_progress(order_id=order.pk):
                continue
            _transition(order, Order.Status.EXPIRED)
            transaction.on_commit(metrics.ORDERS_EXPIRED.inc)
            expired += 1
    return expired
