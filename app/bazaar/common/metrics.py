"""Business and task metrics. In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) every gunicorn
and Celery child writes its own file and the scrape sums them."""

from prometheus_client import Counter, Gauge, Histogram

ORDERS_CREATED = Counter("bazaar_orders_created", "Orders created at checkout.")
ORDERS_PAID = Counter("bazaar_orders_paid", "Orders whose payment was captured.")
ORDERS_CANCELLED = Counter("bazaar_orders_cancelled", "Orders cancelled by their customer.")
ORDERS_EXPIRED = Counter("bazaar_orders_expired", "Unpaid orders expired by beat.")
PAYMENT_FAILURES = Counter(
    "bazaar_payment_failures", "Payment captures that ended failed.", ["reason"]
)
CHECKOUT_CONFLICTS = Counter(
    "bazaar_checkout_conflicts", "Checkouts refused because stock ran out.", ["reason"]
)

CELERY_TASKS = Counter(
    "bazaar_celery_tasks", "Celery tasks finished, by outcome.", ["task", "queue", "state"]
)
CELERY_TASK_RUNTIME = Histogram(
    "bazaar_celery_task_runtime_seconds",
    "Celery task run time.",
    ["task", "queue"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
CELERY_WORKER_HEARTBEAT = Gauge(
    "bazaar_celery_worker_heartbeat_timestamp_seconds",
    "Unix time of the worker's last heartbeat.",
    ["pool"],
    multiprocess_mode="max",
)
