from django.db import models


class Notification(models.Model):
    """One email per (kind, order): the row is claimed before sending, so a redelivered task
    does not send it twice."""

    class Kind(models.TextChoices):
        ORDER_PAID = "order_paid", "Order paid"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    order_id = models.UUIDField()
    recipient = models.EmailField()
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "order_id"], name="one_notification_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id}"
