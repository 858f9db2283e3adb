from celery import shared_task

from . import services


@shared_task(name="orders.expire_unpaid_orders", ignore_result=True)
def expire_unpaid_orders() -> int:
    return services.orders_expire_unpaid()
