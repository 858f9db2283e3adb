import smtplib

from celery import shared_task

from . import services


@shared_task(
    name="notifications.send_order_paid_email",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
    ignore_result=True,
)
def send_order_paid_email(order_id: str) -> None:
    services.notification_send_order_paid(order_id=order_id)
