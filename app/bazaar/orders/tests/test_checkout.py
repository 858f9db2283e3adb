import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from bazaar.accounts.tests.factories import AddressFactory, UserFactory
from bazaar.accounts.tests.test_api import assert_envelope
from bazaar.catalog.models import Product
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.common.models import OutboxMessage
from bazaar.orders import services
from bazaar.orders.models import Order, StockMovement
from conftest import client_for

from .factories import fill_cart

pytestmark = pytest.mark.django_db


def checkout(client, key: str | None = None, body: dict | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())} if key != "" else {}
    return client.post("/api/v1/orders/", body or {}, format="json", **headers)


def test_checkout_takes_stock_snapshots_prices_and_queues_the_capture(user, user_client):
    kettle = ProductFactory(price=Decimal("25.00"), stock=5)
    mug = ProductFactory(price=Decimal("4.50"), stock=10)
    fill_cart(user, (kettle, 2), (mug, 3))
    address = AddressFactory(user=user)

    response = checkout(user_client, body={"shipping_address": address.pk})
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "pending_payment"
    assert order["total"] == "63.50"
    assert order["shipping_address"]["city"] == address.city
    assert {
        (line["product_slug"], line["quantity"], line["unit_price"]) for line in order["lines"]
    } == {
        (kettle.slug, 2, "25.00"),
        (mug.slug, 3, "4.50"),
    }
    kettle.refresh_from_db()
    mug.refresh_from_db()
    assert (kettle.stock, mug.stock) == (3, 7)
    assert user_client.get("/api/v1/cart/").json()["items"] == []
    assert sorted(
        StockMovement.objects.filter(order_id=order["id"]).values_list("delta", flat=True)
    ) == [-3, -2]
    outbox = OutboxMessage.objects.get()
    assert (outbox.task_name, outbox.kwargs) == (
        "payments.capture_order_payment",
        {"order_id": order["id"]},
    )

    # The snapshot survives a later price change.
    Product.objects.filter(pk=kettle.pk).update(price=Decimal("99.00"))
    assert user_client.get(f"/api/v1/orders/{order['id']}/").json()["total"] == "63.50"


def test_idempotency_key_is_required_and_replays(user, user_client):
    fill_cart(user, (ProductFactory(stock=5), 1))
    assert_envelope(checkout(user_client, key=""), 400, "idempotency_key_required")
    assert_envelope(checkout(user_client, key="x" * 256), 400, "idempotency_key_required")

    first = checkout(user_client, key="key-1")
    assert first.status_code == 201
    replay = checkout(user_client, key="key-1")
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    other_body = checkout(user_client, key="key-1", body={"shipping_address": None})
    assert_envelope(other_body, 422, "idempotency_key_reused")
    assert Order.objects.count() == 1


def test_the_same_key_of_another_user_is_a_different_request(
    user, other_user, user_client, other_client
):
    product = ProductFactory(stock=5)
    fill_cart(user, (product, 1))
    fill_cart(other_user, (product, 1))
    assert checkout(user_client, key="shared").status_code == 201
    assert checkout(other_client, key="shared").status_code == 201
    assert Order.objects.count() == 2


def test_empty_cart_out_of_stock_and_someone_elses_address(user, user_client, other_user):
    assert_envelope(checkout(user_client), 409, "cart_empty")
    product = ProductFactory(stock=1)
    fill_cart(user, (product, 1))
    Product.objects.filter(pk=product.pk).update(stock=0)
    error = assert_envelope(checkout(user_client), 409, "out_of_stock")
    assert error["details"] == {"product": product.slug, "available": 0}
    Product.objects.filter(pk=product.pk).update(stock=1)
    foreign = AddressFactory(user=other_user)
    assert_envelope(checkout(user_client, body={"shipping_address": foreign.pk}), 400, "invalid")
    assert Order.objects.count() == 0


def test_orders_are_private(user, user_client, other_client, api_client):
    fill_cart(user, (ProductFactory(), 1))
    order_id = checkout(user_client).json()["id"]
    assert_envelope(api_client.get("/api/v1/orders/"), 401)
    assert_envelope(other_client.get(f"/api/v1/orders/{order_id}/"), 404, "not_found")
    assert_envelope(other_client.post(f"/api/v1/orders/{order_id}/cancel/"), 404, "not_found")
    assert other_client.get("/api/v1/orders/").json()["results"] == []
    assert [o["id"] for o in user_client.get("/api/v1/orders/").json()["results"]] == [order_id]


def test_cancel_restores_stock_once(user, user_client):
    product = ProductFactory(stock=4)
    fill_cart(user, (product, 3))
    order_id = checkout(user_client).json()["id"]
    cancelled = user_client.post(f"/api/v1/orders/{order_id}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    product.refresh_from_db()
    assert product.stock == 4
    assert_envelope(
        user_client.post(f"/api/v1/orders/{order_id}/cancel/"), 409, "invalid_transition"
    )
    product.refresh_from_db()
    assert product.stock == 4


def test_unpaid_orders_expire_and_give_their_stock_back(user, user_client):
    product = ProductFactory(stock=2)
    fill_cart(user, (product, 2))
    order_id = checkout(user_client).json()["id"]
    assert services.orders_expire_unpaid() == 0
    assert services.orders_expire_unpaid(now=timezone.now() + timedelta(days=1)) == 1
    order = Order.objects.get(pk=order_id)
    assert order.status == "expired"
    product.refresh_from_db()
    assert product.stock == 2
    assert list(order.stock_movements.values_list("delta", "reason")) == [
        (-2, "checkout"),
        (2, "expired"),
    ]


def test_status_machine_refuses_illegal_moves(user, user_client):
    fill_cart(user, (ProductFactory(), 1))
    order_id = checkout(user_client).json()["id"]
    with pytest.raises(Exception, match="cannot become fulfilled"):
        services.order_fulfill(order_id=order_id)
    services.order_mark_paid(order_id=order_id)
    services.order_mark_paid(order_id=order_id)  # idempotent
    assert services.order_fulfill(order_id=order_id).status == "fulfilled"


def _in_parallel(count: int, work) -> list:
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_checkouts_of_the_last_item_sell_it_once():
    product = ProductFactory(stock=1)
    users = [UserFactory() for _ in range(50)]
    for shopper in users:
        fill_cart(shopper, (product, 1))
    clients = [client_for(shopper) for shopper in users]

    statuses = _in_parallel(50, lambda i: checkout(clients[i]).status_code)

    assert sorted(statuses) == [201] + [409] * 49
    product.refresh_from_db()
    assert product.stock == 0
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_posts_with_one_key_make_one_order():
    shopper = UserFactory()
    fill_cart(shopper, (ProductFactory(stock=100), 2))
    client = client_for(shopper)

    responses = _in_parallel(20, lambda i: checkout(client, key="one-key"))

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Order.objects.count() == 1
    assert OutboxMessage.objects.filter(task_name="payments.capture_order_payment").count() == 1
