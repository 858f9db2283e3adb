from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from .models import Order, OrderLine


def order_list(*, user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


def orders_due_to_expire(*, now=None) -> QuerySet[Order]:
    return Order.objects.filter(
        status=Order.Status.PENDING_PAYMENT, expires_at__lte=now or timezone.now()
    )


def order_lock(*, order_id) -> Order:
    """The order, locked for the rest of the caller's transaction."""
    return Order.objects.select_for_update().get(pk=order_id)


def order_get(*, order_id) -> Order:
    return Order.objects.select_related("user").prefetch_related("lines").get(pk=order_id)
