import structlog
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from bazaar.orders import selectors as order_selectors

from .models import Notification

logger = structlog.get_logger(__name__)


def notification_send_order_paid(*, order_id) -> bool:
    """Email the customer that their order is paid. Returns False if it was already sent."""
    order = order_selectors.order_get(order_id=order_id)
    with transaction.atomic():
        notification, _ = Notification.objects.select_for_update().get_or_create(
            kind=Notification.Kind.ORDER_PAID,
            order_id=order.pk,
            defaults={"recipient": order.user.email},
        )
        if notification.sent_at is not None:
            return False
        context = {"order": order, "lines": list(order.lines.all())}
        send_mail(
            subject=f"Your Bazaar order {str(order.pk)[:8]} is paid",
            message=render_to_string("notifications/order_paid.txt", context),
            from_email=None,
            recipient_list=[notification.recipient],
        )
        notification.sent_at = timezone.now()
        notification.save(update_fields=["sent_at"])
    logger.info("order_paid_email_sent", order_id=str(order.pk))
    return True
