from django.db import models

from bazaar.common.money import amount_field, currency_field


class Payment(models.Model):
    """The capture of one order's total at the provider."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="payment")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    amount = amount_field()
    currency = currency_field()
    # One key per order: however often the capture is retried, the provider charges once.
    idempotency_key = models.CharField(max_length=100, unique=True)
    provider_charge_id = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Payment for {self.order_id} ({self.status})"


class WebhookEvent(models.Model):
    """Provider events already handled, so a redelivered or replayed event changes nothing."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
