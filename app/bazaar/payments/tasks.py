import random

from celery import shared_task
from django.conf import settings

from . import services
from .gateways.base import TransientPaymentError


def _backoff_seconds(retries: int) -> float:
    """Exponential backoff with full jitter, capped at ``PAYMENT_CAPTURE_BACKOFF_MAX``."""
    ceiling = min(settings.PAYMENT_CAPTURE_BACKOFF_MAX, 2.0 ** (retries + 1))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


@shared_task(
    bind=True,
    name="payments.capture_order_payment",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def capture_order_payment(self, order_id: str) -> None:
    """Capture an order's payment. Redelivered if the worker dies mid-task; the provider's
    idempotency key makes every rerun charge at most once."""
    try:
        services.payment_capture_for_order(order_id=order_id)
    except TransientPaymentError as exc:
        max_retries = settings.PAYMENT_CAPTURE_MAX_RETRIES
        if self.request.retries >= max_retries:
            services.payment_give_up(order_id=order_id, reason="provider_unavailable")
            return
        raise self.retry(
            exc=exc, countdown=_backoff_seconds(self.request.retries), max_retries=max_retries
        ) from exc
