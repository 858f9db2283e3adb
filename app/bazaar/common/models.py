import uuid

from django.db import models


class OutboxMessage(models.Model):
    """A side effect (a Celery task) written in the same transaction as the change that causes
    it. It is sent right after commit and, if the broker was down then, by the relay later —
    so no side effect is lost, and none exists for a transaction that rolled back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="outbox_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.id}"
