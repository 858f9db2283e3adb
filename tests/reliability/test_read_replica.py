"""The read replica, on a real streaming standby of the test Postgres behind its own PgBouncer
(the ``replica`` fixture): catalog reads are served by it, writes and a user's own reads never
are, and when it goes down the catalog reads fall back to the primary without a failed request.

What the standby ran is read from its own pg_stat_statements, which only statements executed on
the standby reach. Tests that must tell the two servers apart pause the standby's WAL replay,
so that it lags for as long as the test needs: a read it served shows the old data.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from bazaar.accounts.tests.factories import UserFactory
from bazaar.catalog.models import Product
from bazaar.catalog.tests.factories import CategoryFactory, ProductFactory
from bazaar.reviews.models import Review
from tests.plugins.services import APP_DIR, launcher_command

from .conftest import SteadyLoad, browsing, checkout, client, wait_for, web_environment

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_SECONDS = 1
TABLE = re.compile(r'"(\w+)"\."\w+"|FROM "(\w+)"')


@pytest.fixture(scope="module")
def replica_web(replica, web_factory):
    """``bazaar web`` with the replica. Nothing is cached, so every catalog read reaches a
    database, and a failed replica is tried again after a second."""
    return web_factory(
        DATABASE_REPLICA_URL=replica.url,
        DATABASE_REPLICA_RETRY_SECONDS=str(RETRY_SECONDS),
        CATALOG_CACHE_TIMEOUT="0",
    )


@pytest.fixture
def replica_lagging(replica):
    """The standby stops replaying the primary's WAL for the test (it still answers reads)."""
    replica.wait_caught_up()
    replica.pause_replay()
    yield replica
    replica.resume_replay()
    replica.wait_caught_up()


def tables_read(statements: list[dict]) -> set[str]:
    return {
        name for s in statements for match in TABLE.findall(s["query"]) for name in match if name
    }


def catalog_paths(product: Product) -> list[str]:
    return [
        "/api/v1/products/",
        "/api/v1/products/?q=lantern",
        f"/api/v1/products/?category={product.category.slug}&ordering=price",
        f"/api/v1/products/{product.slug}/",
        f"/api/v1/products/{product.slug}/reviews/",
        "/api/v1/categories/",
    ]


def test_catalog_reads_are_served_by_the_replica(replica, replica_web):
    product = ProductFactory(name="Brass lantern", category=CategoryFactory())
    Review.objects.create(product=product, user=UserFactory(), rating=5, title="Bright")
    replica.wait_caught_up()
    replica.reset_statements()

    with client(replica_web.base_url) as http:
        for path in catalog_paths(product):
            response = http.get(path)
            assert response.status_code == 200, (path, response.text)

    served = replica.statements()
    assert {"catalog_product", "catalog_category", "reviews_review"} <= tables_read(served)
    assert sum(s["calls"] for s in served if "catalog_product" in s["query"]) >= 5


def test_catalog_reads_show_what_the_replica_has_replayed(replica_lagging, replica_web):
    """Lag-tolerant means exactly this: until the standby replays a change, the catalog shows
    the data before it, while the primary already has the new one."""
    product = ProductFactory(name="Copper kettle")
    replica_lagging.resume_replay()
    replica_lagging.wait_caught_up()
    replica_lagging.pause_replay()
    Product.objects.filter(pk=product.pk).update(name="Copper kettle, renamed")

    with client(replica_web.base_url) as http:
        assert http.get(f"/api/v1/products/{product.slug}/").json()["name"] == "Copper kettle"
        replica_lagging.resume_replay()
        replica_lagging.wait_caught_up()
        detail = http.get(f"/api/v1/products/{product.slug}/").json()
    assert detail["name"] == "Copper kettle, renamed"


def test_writes_and_a_users_own_reads_never_reach_the_replica(replica_lagging, replica_web):
    """With the standby frozen, the shopper's cart, checkout, orders and review and the staff's
    catalog writes all see their own writes at once, and the standby runs none of it."""
    product = ProductFactory(stock=5)
    shopper, staff = UserFactory(), UserFactory(is_staff=True)
    replica_lagging.reset_statements()

    with client(replica_web.base_url, shopper) as http:
        added = http.post("/api/v1/cart/items/", json={"product": product.slug, "quantity": 2})
        assert added.status_code == 201, added.text
        assert [item["quantity"] for item in http.get("/api/v1/cart/").json()["items"]] == [2]
        order = checkout(http)
        assert order.status_code == 201, order.text
        order_id = order.json()["id"]
        # Read straight after the write: the order is there.
        assert http.get(f"/api/v1/orders/{order_id}/").json()["status"] == "pending_payment"
        assert order_id in [o["id"] for o in http.get("/api/v1/orders/").json()["results"]]
        assert http.post(f"/api/v1/orders/{order_id}/cancel/").status_code == 200
        review = http.post(f"/api/v1/products/{product.slug}/reviews/", json={"rating": 4})
        assert review.status_code == 201, review.text
    with client(replica_web.base_url, staff) as http:
        created = http.post(
            "/api/v1/products/",
            json={
                "name": "Fresh product",
                "category": product.category.slug,
                "price": "5.00",
                "stock": 1,
            },
        )
        assert created.status_code == 201, created.text
        slug = created.json()["slug"]
        assert http.patch(f"/api/v1/products/{slug}/", json={"stock": 3}).status_code == 200

    assert replica_lagging.statements() == []


def test_a_checkout_followed_at_once_by_reading_the_order_sees_it(replica, replica_web):
    """No lag forced here: the real streaming replica, with a fresh order read at once, ten
    times over; each read is the primary's."""
    products = [ProductFactory(stock=50) for _ in range(2)]
    shopper = UserFactory()
    with client(replica_web.base_url, shopper) as http:
        for turn in range(10):
            slug = products[turn % 2].slug
            assert http.post("/api/v1/cart/items/", json={"product": slug}).status_code == 201
            order = checkout(http)
            assert order.status_code == 201, order.text
            read = http.get(f"/api/v1/orders/{order.json()['id']}/")
            assert read.status_code == 200
            assert read.json()["total"] == order.json()["total"]


def fallbacks_counted(web) -> float:
    with client(web.base_url) as http:
        response = http.get("/metrics")
    assert response.status_code == 200, response.text[:300]
    metrics = response.text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("bazaar_db_replica_fallbacks_total{")
    )


@pytest.mark.parametrize("what_fails", ["standby", "pgbouncer"])
def test_when_the_replica_is_down_catalog_reads_fall_back_to_the_primary(
    replica, replica_web, what_fails
):
    """Under a steady browsing load the standby (or its PgBouncer) stops and comes back: no
    request fails, the fall-backs are counted and logged, and once it is back the replica
    serves the catalog again."""
    products = [ProductFactory() for _ in range(3)]
    replica.wait_caught_up()
    server = replica.postgres if what_fails == "standby" else replica.pgbouncer
    counted_before = fallbacks_counted(replica_web)

    with SteadyLoad(replica_web.base_url, browsing([p.slug for p in products])) as load:
        load.wait_for_requests(20)
        server.stop()
        try:
            # Longer than PgBouncer's query_wait_timeout and several breaker periods.
            load.wait_for_requests(100, timeout=60)
            wait_for(
                lambda: fallbacks_counted(replica_web) >= counted_before + 2,
                timeout=30,
                what="fall-backs counted",
            )
        finally:
            server.start()
        replica.wait_caught_up()
        replica.reset_statements()
        wait_for(
            lambda: tables_read(replica.statements()) >= {"catalog_product"},
            timeout=30,
            what="the replica to serve the catalog again",
        )
        load.wait_for_requests(20)

    assert load.failures == []
    assert {outcome.status for outcome in load.outcomes} == {200}
    assert "replica_read_failed" in replica_web.output_of_last_run()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgres://bazaar:s3cret-pw@:6432/bazaar", "no host"),
        ("postgresql://bazaar:s3cret-pw@replica:port/bazaar", "Port could not be cast"),
        ("redis://bazaar:s3cret-pw@replica:6379/0", "the scheme is not postgres://"),
    ],
)
def test_a_malformed_replica_url_stops_the_process_at_start_with_a_clear_error(url, problem):
    result = subprocess.run(
        [*launcher_command(), "check"],
        env=web_environment(DATABASE_REPLICA_URL=url, STATIC_ROOT="/tmp/bazaar-check-static"),
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_REPLICA_URL" in result.stderr
    assert problem in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
