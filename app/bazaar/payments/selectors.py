from .models import Payment


def payment_in_progress(*, order_id) -> bool:
    """True while a capture call may be in flight: the order must not be closed under it."""
    return Payment.objects.filter(order_id=order_id, status=Payment.Status.PROCESSING).exists()
