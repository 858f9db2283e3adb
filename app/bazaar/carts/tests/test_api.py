import pytest

from bazaar.accounts.tests.test_api import assert_envelope
from bazaar.catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_add_update_and_remove_items(user_client):
    product = ProductFactory(stock=5)
    added = user_client.post("/api/v1/cart/items/", {"product": product.slug, "quantity": 2})
    assert added.status_code == 201, added.content
    again = user_client.post("/api/v1/cart/items/", {"product": product.slug, "quantity": 1}).json()
    assert [(i["product"]["slug"], i["quantity"]) for i in again["items"]] == [(product.slug, 3)]
    assert again["total"] == "59.97"
    item_id = again["items"][0]["id"]
    updated = user_client.patch(f"/api/v1/cart/items/{item_id}/", {"quantity": 1}).json()
    assert updated["items"][0]["quantity"] == 1
    assert user_client.delete(f"/api/v1/cart/items/{item_id}/").status_code == 204
    assert user_client.get("/api/v1/cart/").json()["items"] == []


def test_quantity_and_stock_are_validated(user_client):
    product = ProductFactory(stock=2)
    assert_envelope(
        user_client.post("/api/v1/cart/items/", {"product": product.slug, "quantity": 3}),
        409,
        "out_of_stock",
    )
    for bad in (0, -1, "many", 10**9):
        assert_envelope(
            user_client.post("/api/v1/cart/items/", {"product": product.slug, "quantity": bad}),
            400,
            "invalid",
        )
    assert_envelope(user_client.post("/api/v1/cart/items/", {"product": "missing"}), 400, "invalid")
    assert user_client.get("/api/v1/cart/").json()["items"] == []


def test_carts_are_private_and_need_authentication(user_client, other_client, api_client):
    product = ProductFactory()
    item_id = user_client.post("/api/v1/cart/items/", {"product": product.slug}).json()["items"][0][
        "id"
    ]
    assert_envelope(api_client.get("/api/v1/cart/"), 401)
    assert_envelope(other_client.patch(f"/api/v1/cart/items/{item_id}/", {"quantity": 2}), 404)
    assert_envelope(other_client.delete(f"/api/v1/cart/items/{item_id}/"), 404)
    assert other_client.get("/api/v1/cart/").json()["items"] == []
    assert len(user_client.get("/api/v1/cart/").json()["items"]) == 1
