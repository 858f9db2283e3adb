import uuid

from django.conf import settings
from django.db import models

from bazaar.common.money import amount_field, currency_field


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        PAID = "paid", "Paid"
        FULFILLED = "fulfilled", "Fulfilled"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    # Which status may follow which; anything else is refused by the services.
    TRANSITIONS = {
        Status.PENDING_PAYMENT: {
            Status.PAID,
            Status.PAYMENT_FAILED,
            Status.CANCELLED,
            Status.EXPIRED,
        },
        Status.PAID: {Status.FULFILLED},
    }
    # Leaving pending_payment for these gives the reserved stock back.
    RELEASES_STOCK = {Status.PAYMENT_FAILED, Status.CANCELLED, Status.EXPIRED}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True
    )
    currency = currency_field()
    total = amount_field()
    shipping_address = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"Order {self.id} ({self.status})"

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())


class OrderLine(models.Model):
    """A line with the product's name and price as they were at checkout."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    product_name = models.CharField(max_length=200)
    product_slug = models.SlugField(max_length=220)
    unit_price = amount_field()
    quantity = models.PositiveIntegerField()
    line_total = amount_field()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name}"


class StockMovement(models.Model):
    """The ledger of stock changes caused by orders: every order's reservation and release."""

    class Reason(models.TextChoices):
        CHECKOUT = "checkout", "Checkout"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        PAYMENT_FAILED = "payment_failed", "Payment failed"

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="stock_movements")
    delta = models.IntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.product_id} ({self.reason})"


class IdempotencyKey(models.Model):
    """A checkout request by key: the fingerprint of its body and the response it got."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return self.key
