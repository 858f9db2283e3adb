from celery import shared_task

from .outbox import outbox_relay


@shared_task(name="common.relay_outbox", ignore_result=True)
def relay_outbox() -> int:
    return outbox_relay()
