"""The transactional outbox: ``outbox_enqueue`` inside a transaction, ``outbox_relay`` after."""

from collections.abc import Iterable
from datetime import timedelta
from uuid import UUID

import structlog
from django.db import transaction
from django.utils import timezone

from .models import OutboxMessage

logger = structlog.get_logger(__name__)


def outbox_enqueue(*, task_name: str, kwargs: dict) -> OutboxMessage:
    """Record a task to run once the surrounding transaction commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_enqueue must be called inside transaction.atomic()")
    request_id = structlog.contextvars.get_contextvars().get("request_id", "")
    message = OutboxMessage.objects.create(
        task_name=task_name, kwargs=kwargs, request_id=str(request_id)[:64]
    )
    transaction.on_commit(lambda: outbox_dispatch(message_ids=[message.id]))
    return message


def outbox_dispatch(*, message_ids: Iterable[UUID]) -> int:
    """Send the given messages to the broker; each is marked only once the broker took it.
    Returns how many were sent. A broker outage leaves them for the relay."""
    from config.celery_app import app

    sent = 0
    run_inline = []
    for message_id in message_ids:
        with transaction.atomic():
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(id=message_id, dispatched_at__isnull=True)
                .first()
            )
            if message is None:
                continue
            message.attempts += 1
            if app.conf.task_always_eager:
                # In-process mode (make run): run after this transaction, not inside it.
                run_inline.append(message)
            else:
                try:
                    _publish(app, message)
                except Exception as exc:
                    message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                    message.save(update_fields=["attempts", "last_error"])
                    logger.warning(
                        "outbox_dispatch_failed", message_id=str(message.id), error=str(exc)
                    )
                    break
            message.dispatched_at = timezone.now()
            message.save(update_fields=["attempts", "dispatched_at"])
            sent += 1
    for message in run_inline:
        _publish(app, message)
    return sent


def _publish(app, message: OutboxMessage) -> None:
    with structlog.contextvars.bound_contextvars(request_id=message.request_id or None):
        app.tasks[message.task_name].apply_async(kwargs=message.kwargs, task_id=str(message.id))


def outbox_relay(*, older_than_seconds: float = 2.0, batch_size: int = 500) -> int:
    """Send what the after-commit dispatch could not (broker down, process killed)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = list(
        OutboxMessage.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("id", flat=True)[:batch_size]
    )
    return outbox_dispatch(message_ids=pending) if pending else 0


def outbox_pending_count() -> int:
    return OutboxMessage.objects.filter(dispatched_at__isnull=True).count()
