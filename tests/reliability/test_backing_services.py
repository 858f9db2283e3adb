"""Postgres restarted behind PgBouncer, Redis down for a minute and Redis hung, all under load:
the shop degrades and recovers on its own, and loses or duplicates nothing."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

from bazaar.accounts.tests.factories import UserFactory
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.common.models import OutboxMessage
from bazaar.orders.models import Order
from bazaar.orders.tests.factories import fill_cart
from bazaar.payments.models import Payment

from .conftest import (
    SteadyLoad,
    browsing,
    checkout,
    client,
    expected_shopping_status,
    shopping,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

SOAK = os.environ.get("BAZAAR_SOAK") == "1"
POSTGRES_OUTAGE_SECONDS = 3
RECOVERY_WINDOW_SECONDS = 10
REDIS_OUTAGE_SECONDS = 300 if SOAK else 60
ORDERS_DURING_REDIS_OUTAGE = 4
CONSUME_AGAIN_WITHIN_SECONDS = 60
REDIS_HANG_SECONDS = 8
PGBOUNCER_DEFAULT_LOGIN_RETRY = 15


class ReadinessWatch:
    """Polls a web process's ``/readyz`` in the background and keeps every status seen."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.statuses: list[int | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5) as http:
            while not self._stop.is_set():
                try:
                    self.statuses.append(http.get("/readyz").status_code)
                except httpx.HTTPError:
                    self.statuses.append(None)
                time.sleep(0.2)

    def __enter__(self) -> ReadinessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def half_written_orders(services) -> list[tuple]:
    """Orders missing lines, a stock movement per line, or whose total is not their lines' sum."""
    with services.postgres.connect() as connection:
        return connection.execute(
            """
            SELECT o.id, count(l.id), o.total, coalesce(sum(l.line_total), 0)
            FROM orders_order o
            LEFT JOIN orders_orderline l ON l.order_id = o.id
            GROUP BY o.id
            HAVING count(l.id) = 0
                OR o.total <> coalesce(sum(l.line_total), 0)
                OR count(l.id) <> (
                    SELECT count(*) FROM orders_stockmovement m
                    WHERE m.order_id = o.id AND m.reason = 'checkout'
                    AND EXISTS (
                        SELECT 1 FROM orders_orderline ml
                        WHERE ml.order_id = o.id AND ml.product_id = m.product_id
                          AND ml.quantity = -m.delta
                    )
                )
            """
        ).fetchall()


def chart_pgbouncer_login_retry() -> int:
    """``server_login_retry`` of the chart's production PgBouncer: how long PgBouncer refuses
    clients after one failed server login, so what bounds the error window after Postgres is
    back. PgBouncer's default is 15 s."""
    from tests.chart.helm import SCENARIOS_DIR, render

    for obj in render([SCENARIOS_DIR / "production-values.yaml"]):
        ini = obj.get("data", {}).get("pgbouncer.ini") if obj["kind"] == "ConfigMap" else None
        if ini is None:
            continue
        for line in ini.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "server_login_retry":
                return int(value)
    return PGBOUNCER_DEFAULT_LOGIN_RETRY


@pytest.fixture
def pgbouncer_as_in_the_chart(services):
    services.pgbouncer.admin_query(f"SET server_login_retry = {chart_pgbouncer_login_retry()}")
    yield
    services.pgbouncer.admin_query(f"SET server_login_retry = {PGBOUNCER_DEFAULT_LOGIN_RETRY}")


def test_postgres_restart_behind_pgbouncer_under_load(
    fresh_shop, pgbouncer_as_in_the_chart, figures
):
    """``/readyz`` turns 503 while Postgres is down, errors stop within 10 s of it accepting
    connections again, no gunicorn worker restarts and every order is whole."""
    services = fresh_shop.services
    products = [ProductFactory(stock=100_000) for _ in range(2)]
    load = SteadyLoad(
        fresh_shop.url,
        browsing([p.slug for p in products]) + shopping(products[0].slug),
        users=[UserFactory() for _ in range(4)],
        expect=expected_shopping_status,
    )
    workers_before = {web.name: web.worker_pids() for web in fresh_shop.webs}
    with load, ReadinessWatch(fresh_shop.webs[0].base_url) as readiness:
        load.wait_for_requests(30)
        went_down = time.monotonic()
        services.postgres.stop()
        time.sleep(POSTGRES_OUTAGE_SECONDS)
        services.postgres.start()
        back = time.monotonic()
        wait_for(
            lambda: time.monotonic() > back + RECOVERY_WINDOW_SECONDS,
            timeout=RECOVERY_WINDOW_SECONDS + 1,
            what="the recovery window",
        )
        load.wait_for_requests(50)

    failures = load.failures
    last_failure = max((f.ended for f in failures), default=went_down)
    error_window_after_back = max(0.0, last_failure - back)
    figures.record("postgres restart", "requests", len(load.outcomes))
    figures.record("postgres restart", "failed requests (during outage)", len(failures))
    figures.record("postgres restart", "/readyz 503 seen", readiness.statuses.count(503))
    figures.record("postgres restart", "errors after Postgres back (s)", error_window_after_back)
    figures.record("postgres restart", "orders", Order.objects.count())
    figures.record("postgres restart", "half-written orders", len(half_written_orders(services)))
    assert 503 in readiness.statuses
    assert error_window_after_back <= RECOVERY_WINDOW_SECONDS, failures[-5:]
    assert {web.name: web.worker_pids() for web in fresh_shop.webs} == workers_before
    assert Order.objects.exists()
    assert half_written_orders(services) == []
    stock = products[0].__class__.objects.get(pk=products[0].pk).stock
    sold = sum(line.quantity for order in Order.objects.all() for line in order.lines.all())
    assert stock == 100_000 - sold, "stock matches what was sold"


def direct_loads(shop, requests, threads_per_web: int = 2, **kwargs) -> list[SteadyLoad]:
    """One load per web process, straight to its port: readiness takes every process out of
    the load balancer while Redis is down (see the report), so the app itself is measured."""
    return [
        SteadyLoad(web.base_url, requests, threads=threads_per_web, **kwargs) for web in shop.webs
    ]


def place_order_on(base_url: str, product) -> httpx.Response:
    shopper = UserFactory()
    fill_cart(shopper, (product, 1))
    with client(base_url, shopper) as http:
        return checkout(http)


@pytest.mark.timeout(REDIS_OUTAGE_SECONDS + 240)
def test_redis_down_for_a_minute(fresh_shop, celery_worker, beat, figures):
    """Catalog reads keep >= 99% success, checkouts commit with their capture in the outbox,
    and after Redis returns every task runs exactly once, consumed again within 60 s."""
    services = fresh_shop.services
    celery_worker("all", concurrency=2)
    products = [ProductFactory(stock=1_000) for _ in range(3)]
    loads = direct_loads(
        fresh_shop,
        browsing([p.slug for p in products]),
        expect=lambda name, response: response.status_code == 200,
    )
    order_ids = []
    for load in loads:
        load.__enter__()
    try:
        loads[0].wait_for_requests(20)
        services.redis.stop()
        went_down = time.monotonic()
        for index in range(ORDERS_DURING_REDIS_OUTAGE):
            web = fresh_shop.webs[index % 2]
            response = place_order_on(web.base_url, products[0])
            assert response.status_code == 201, response.text
            order_ids.append(response.json()["id"])
        pending_in_outbox = OutboxMessage.objects.filter(dispatched_at__isnull=True).count()
        time.sleep(max(0.0, REDIS_OUTAGE_SECONDS - (time.monotonic() - went_down)))
        services.redis.start()
        back = time.monotonic()
    finally:
        for load in loads:
            load.__exit__(None, None, None)

    wait_for(
        lambda: Order.objects.filter(pk__in=order_ids, status="paid").count() == len(order_ids),
        timeout=CONSUME_AGAIN_WITHIN_SECONDS,
        what="the orders placed during the outage to be paid",
    )
    consumed_after = time.monotonic() - back
    services.smtp.wait_for_messages(len(order_ids))

    during = [o for load in loads for o in load.outcomes if went_down <= o.ended <= back]
    succeeded = sum(outcome.ok for outcome in during)
    success_rate = succeeded / len(during)
    charges = fresh_shop.psp_charges()
    runs = list(Payment.objects.values_list("attempts", flat=True))
    figures.record("redis down", "outage (s)", float(REDIS_OUTAGE_SECONDS))
    figures.record("redis down", "catalog reads during outage", len(during))
    figures.record("redis down", "catalog read success (%)", 100 * success_rate)
    figures.record("redis down", "orders committed during outage", len(order_ids))
    figures.record("redis down", "captures waiting in the outbox", pending_in_outbox)
    figures.record("redis down", "all paid after Redis returned (s)", consumed_after)
    figures.record("redis down", "charges", charges["count"])
    figures.record("redis down", "emails", len(services.smtp.messages()))
    assert success_rate >= 0.99
    assert pending_in_outbox == len(order_ids)
    assert charges["count"] == len(order_ids)
    assert runs == [1] * len(order_ids), "each capture ran exactly once"
    time.sleep(2)  # a duplicate email would arrive within the relay's next ticks
    assert len(services.smtp.messages()) == len(order_ids)
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 0


def test_hung_redis_fails_fast_and_never_times_out_a_gunicorn_worker(fresh_shop, figures):
    """With Redis frozen (SIGSTOP) every request ends within the client-side socket timeouts
    instead of hanging, and no gunicorn worker is killed for a timeout."""
    services = fresh_shop.services
    products = [ProductFactory(stock=100_000) for _ in range(2)]
    requests = browsing([p.slug for p in products]) + shopping(products[0].slug)
    loads = direct_loads(fresh_shop, requests, users=[UserFactory() for _ in range(2)])
    workers_before = {web.name: web.worker_pids() for web in fresh_shop.webs}
    for load in loads:
        load.__enter__()
    try:
        loads[0].wait_for_requests(20)
        services.redis.pause()
        hung = time.monotonic()
        time.sleep(REDIS_HANG_SECONDS)
        services.redis.resume()
        resumed = time.monotonic()
        loads[0].wait_for_requests(20)
    finally:
        for load in loads:
            load.__exit__(None, None, None)

    during = [o for load in loads for o in load.outcomes if hung <= o.ended <= resumed]
    slowest = max(during, key=lambda outcome: outcome.seconds)
    figures.record("redis hung", "requests while frozen", len(during))
    figures.record("redis hung", "answered", sum(o.status is not None for o in during))
    figures.record("redis hung", "slowest request (s)", slowest.seconds)
    figures.record("redis hung", "slowest request", slowest.name)
    assert all(outcome.status is not None for outcome in during), [
        o for o in during if o.status is None
    ][:5]
    # The longest a request may wait on a frozen Redis, from the configured client timeouts: a
    # broker publish (socket timeout, retried per the publish policy) dominates the cache's.
    from django.conf import settings

    publish_attempts = settings.CELERY_TASK_PUBLISH_RETRY_POLICY["max_retries"] + 1
    bound = settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] * publish_attempts + 1
    figures.record("redis hung", "bound from the socket timeouts (s)", bound)
    assert slowest.seconds <= bound
    assert {web.name: web.worker_pids() for web in fresh_shop.webs} == workers_before
    assert not any("WORKER TIMEOUT" in web.output_of_last_run() for web in fresh_shop.webs)
