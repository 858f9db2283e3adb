"""Payment capture and provider webhooks, through the provider-agnostic gateway interface."""

import uuid
from functools import cache

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction

from bazaar.common import parsers
from bazaar.orders import selectors as order_selectors
from bazaar.orders import services as order_services
from bazaar.orders.models import Order

from .gateways.base import Charge, PaymentGateway
from .gateways.http import HttpPaymentGateway
from .models import Payment, WebhookEvent

logger = structlog.get_logger(__name__)
CHARGE_SUCCEEDED = "succeeded"


def get_gateway() -> PaymentGateway:
    return _gateway(
        settings.PAYMENT_PROVIDER_URL,
        settings.PAYMENT_PROVIDER_API_KEY,
        settings.PAYMENT_WEBHOOK_SECRET,
        settings.PAYMENT_PROVIDER_TIMEOUT,
    )


@cache
def _gateway(base_url: str, api_key: str, webhook_secret: str, timeout: float) -> PaymentGateway:
    """One gateway (and its connection pool) per configuration."""
    return HttpPaymentGateway(
        base_url=base_url,
        api_key=api_key,
        webhook_secret=webhook_secret,
        timeout=(2.0, timeout),
    )


def _claim(*, order_id) -> Payment | None:
    """Mark the payment as in flight, or return None when there is nothing to capture."""
    with transaction.atomic():
        order = order_selectors.order_lock(order_id=order_id)
        payment, _ = Payment.objects.select_for_update().get_or_create(
            order=order,
            defaults={
                "amount": order.total,
                "currency": order.currency,
                "idempotency_key": f"capture-{order.pk}",
            },
        )
        if payment.status in {Payment.Status.SUCCEEDED, Payment.Status.FAILED}:
            return None
        if order.status != Order.Status.PENDING_PAYMENT:
            payment.status = Payment.Status.CANCELLED
            payment.save(update_fields=["status", "updated_at"])
            return None
        payment.status = Payment.Status.PROCESSING
        payment.attempts += 1
        payment.save(update_fields=["status", "attempts", "updated_at"])
        return payment


def payment_capture_for_order(*, order_id) -> None:
    """Capture the order's total. Safe to run any number of times, concurrently or after a
    crash: the provider sees one idempotency key per order. Transient provider errors
    propagate (``TransientPaymentError``) for the task to retry."""
    payment = _claim(order_id=order_id)
    if payment is None:
        return
    try:
        charge = get_gateway().capture(
            reference=str(payment.order_id),
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
        )
    except Exception as exc:
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.PROCESSING).update(
            status=Payment.Status.PENDING, last_error=f"{type(exc).__name__}: {exc}"[:1000]
        )
        raise
    _apply_charge(order_id=payment.order_id, charge=charge)


def _apply_charge(*, order_id, charge: Charge) -> None:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(order_id=order_id)
        if payment.status in {Payment.Status.SUCCEEDED, Payment.Status.FAILED}:
            return
        if (charge.amount, charge.currency) != (payment.amount, payment.currency):
            logger.error(
                "charge_amount_mismatch",
                order_id=str(order_id),
                charged=f"{charge.amount} {charge.currency}",
                expected=f"{payment.amount} {payment.currency}",
            )
            return
        succeeded = charge.status == CHARGE_SUCCEEDED
        payment.status = Payment.Status.SUCCEEDED if succeeded else Payment.Status.FAILED
        payment.provider_charge_id = charge.id
        payment.failure_code = charge.failure_code or ""
        payment.save(update_fields=["status", "provider_charge_id", "failure_code", "updated_at"])
        if succeeded:
            try:
                with transaction.atomic():
                    order_services.order_mark_paid(order_id=order_id)
            except Exception:
                logger.exception("captured_payment_for_closed_order", order_id=str(order_id))
        else:
            order_services.order_mark_payment_failed(
                order_id=order_id, reason=charge.failure_code or "declined"
            )


def payment_give_up(*, order_id, reason: str) -> None:
    """After the last retry: the order ends payment_failed, never stuck."""
    with transaction.atomic():
        Payment.objects.filter(order_id=order_id).exclude(
            status__in=[Payment.Status.SUCCEEDED, Payment.Status.FAILED]
        ).update(status=Payment.Status.FAILED, failure_code=reason)
        order_services.order_mark_payment_failed(order_id=order_id, reason=reason)


def payment_handle_webhook(*, payload: bytes, signature_header: str) -> bool:
    """Apply a provider event. Raises ``InvalidWebhookSignature`` for forged or stale ones;
    returns False for an event already handled."""
    event = get_gateway().parse_webhook(payload=payload, signature_header=signature_header)
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                event_id=event.id, type=event.type, payload=parsers.loads(payload)
            )
    except IntegrityError:
        logger.info("webhook_duplicate", event_id=event.id)
        return False
    charge = event.charge
    if not Order.objects.filter(pk=_as_uuid(charge.reference)).exists():
        logger.warning("webhook_unknown_order", event_id=event.id, reference=charge.reference)
        return True
    with transaction.atomic():
        order = order_selectors.order_lock(order_id=charge.reference)
        Payment.objects.get_or_create(
            order=order,
            defaults={
                "amount": order.total,
                "currency": order.currency,
                "idempotency_key": f"capture-{order.pk}",
                "status": Payment.Status.PROCESSING,
            },
        )
    _apply_charge(order_id=charge.reference, charge=charge)
    return True


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None
