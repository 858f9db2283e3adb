"""Zero-downtime deploys: graceful reloads and rolling replacements under a steady load lose no
request, and the requests in flight when a process is told to stop complete."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from bazaar.accounts.tests.factories import UserFactory
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.orders.models import Order
from bazaar.orders.tests.factories import fill_cart

from .conftest import (
    SteadyLoad,
    WebProcess,
    browsing,
    checkout,
    client,
    expected_shopping_status,
    product_rows_locked,
    shopping,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

RELOADS_PER_PROCESS = 5
ROLLING_ROUNDS = 2
# Fewer than one gunicorn worker's threads (GUNICORN_THREADS=4): were all the blocked
# checkouts accepted by the same worker, it would have no thread left for the load balancer's
# requests, and the drain would wait on the very lock the test releases after it.
IN_FLIGHT_CHECKOUTS = 3


@pytest.fixture
def steady_load(fresh_shop):
    """Browsing and shopping from four threads through the load balancer."""
    products = [ProductFactory(stock=100_000) for _ in range(3)]
    shoppers = [UserFactory() for _ in range(4)]
    requests = browsing([p.slug for p in products]) + shopping(products[0].slug)
    return SteadyLoad(
        fresh_shop.url, requests, users=shoppers, threads=4, expect=expected_shopping_status
    )


def checkouts_in_flight(services, web: WebProcess, count: int) -> tuple[list[Future], object]:
    """Start ``count`` checkouts on ``web`` that block on a product row lock; returns their
    futures and the lock, which the caller releases (leaves) to let them finish."""
    product = ProductFactory(stock=count)
    shoppers = [UserFactory() for _ in range(count)]
    for shopper in shoppers:
        fill_cart(shopper, (product, 1))
    lock = product_rows_locked(services, [product.pk])
    lock.__enter__()
    pool = ThreadPoolExecutor(count)

    def place(shopper):
        with client(web.base_url, shopper) as http:
            return checkout(http)

    futures = [pool.submit(place, shopper) for shopper in shoppers]
    pool.shutdown(wait=False)
    with services.postgres.connect() as connection:
        wait_for(
            lambda: (
                connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).fetchone()[0]
                >= count
            ),
            timeout=30,
            what=f"{count} checkouts waiting on the product lock",
        )
    return futures, lock


def assert_all_placed(futures: list[Future]) -> None:
    responses = [future.result(timeout=60) for future in futures]
    assert [r.status_code for r in responses] == [201] * len(responses), [r.text for r in responses]
    assert Order.objects.filter(pk__in=[r.json()["id"] for r in responses]).count() == len(
        responses
    )


def test_graceful_reloads_of_every_web_process_under_load_fail_no_request(
    fresh_shop, steady_load, figures
):
    """SIGHUP five times to each gunicorn master while shoppers browse and check out: new
    workers take over, old ones finish their requests, no request fails."""
    webs = fresh_shop.webs
    with steady_load:
        steady_load.wait_for_requests(20)
        for round_number in range(RELOADS_PER_PROCESS):
            for web in webs:
                if round_number == 0:
                    futures, lock = checkouts_in_flight(
                        fresh_shop.services, web, IN_FLIGHT_CHECKOUTS
                    )
                    old_workers = web.signal_reload()
                    steady_load.wait_for_requests(10)
                    # Graceful: the old workers wait for their blocked requests.
                    assert old_workers <= web.worker_pids()
                    lock.__exit__(None, None, None)
                    assert_all_placed(futures)
                    web.wait_reloaded(old_workers)
                else:
                    web.reload()
                steady_load.wait_for_requests(20)

    figures.record("graceful reloads", "reloads", RELOADS_PER_PROCESS * len(webs))
    figures.record("graceful reloads", "requests", len(steady_load.outcomes))
    figures.record("graceful reloads", "failed requests", len(steady_load.failures))
    figures.record("graceful reloads", "in-flight checkouts completed", IN_FLIGHT_CHECKOUTS * 2)
    assert steady_load.failures == [], steady_load.failures[:5]
    assert all(web.running for web in webs)


def test_rolling_replacements_under_load_fail_no_request_and_finish_in_flight_work(
    fresh_shop, steady_load, figures
):
    """Each round replaces every web process as a rolling update does: start the next one,
    wait until the load balancer sees it ready, drain the old one (preStop), SIGTERM it. The
    checkouts in flight on the old process when SIGTERM arrives complete."""
    replaced = 0
    in_flight_completed = 0
    with steady_load:
        steady_load.wait_for_requests(20)
        for _ in range(ROLLING_ROUNDS):
            for old in list(fresh_shop.webs):
                fresh_shop.load_balancer.add(fresh_shop.start_web())
                futures, lock = checkouts_in_flight(fresh_shop.services, old, IN_FLIGHT_CHECKOUTS)
                fresh_shop.load_balancer.drain(old)
                old.terminate()
                # Graceful: the master waits for the blocked requests instead of exiting.
                steady_load.wait_for_requests(10)
                assert old.running, "gunicorn exited with requests in flight"
                lock.__exit__(None, None, None)
                assert_all_placed(futures)
                in_flight_completed += len(futures)
                wait_for(lambda old=old: not old.running, timeout=30, what=f"{old.name} to exit")
                assert old.returncode == 0, old.log_tail()
                replaced += 1
                steady_load.wait_for_requests(20)

    figures.record("rolling replacements", "processes replaced", replaced)
    figures.record("rolling replacements", "requests", len(steady_load.outcomes))
    figures.record("rolling replacements", "failed requests", len(steady_load.failures))
    figures.record("rolling replacements", "in-flight checkouts completed", in_flight_completed)
    assert steady_load.failures == [], steady_load.failures[:5]
    assert len(fresh_shop.webs) == 2
