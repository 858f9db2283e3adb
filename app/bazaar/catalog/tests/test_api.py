from decimal import Decimal

import pytest
from django.core.cache import cache as django_cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bazaar.accounts.tests.test_api import assert_envelope
from bazaar.catalog import services
from bazaar.catalog.models import ProductImage

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [product["slug"] for product in response.json()["results"]]


def test_list_and_detail_show_price_currency_stock_and_rating(api_client):
    product = ProductFactory(price=Decimal("12.50"), stock=3)
    listed = api_client.get("/api/v1/products/").json()["results"][0]
    assert listed["price"] == "12.50"
    assert listed["currency"] == "EUR"
    assert listed["in_stock"] is True
    assert listed["rating"] == {"average": None, "count": 0}
    detail = api_client.get(f"/api/v1/products/{product.slug}/")
    assert detail.json()["category"]["slug"] == product.category.slug
    assert_envelope(api_client.get("/api/v1/products/no-such-thing/"), 404, "not_found")


def test_full_text_search_finds_words_in_name_and_description(api_client):
    kettle = ProductFactory(name="Copper kettle", description="Boils water quickly")
    ProductFactory(name="Garden hose", description="Green and long")
    assert slugs(api_client.get("/api/v1/products/?q=kettles")) == [kettle.slug]  # stemming
    assert slugs(api_client.get("/api/v1/products/?q=water")) == [kettle.slug]
    assert slugs(api_client.get("/api/v1/products/?q=piano")) == []


def test_filters_by_category_tree_price_and_stock(api_client):
    home = CategoryFactory(slug="home")
    kitchen = CategoryFactory(slug="kitchen", parent=home)
    pan = ProductFactory(category=kitchen, price=Decimal("30.00"), stock=0)
    lamp = ProductFactory(category=home, price=Decimal("80.00"))
    ProductFactory(category=CategoryFactory(slug="books"), price=Decimal("10.00"))

    assert set(slugs(api_client.get("/api/v1/products/?category=home"))) == {pan.slug, lamp.slug}
    assert slugs(api_client.get("/api/v1/products/?category=kitchen")) == [pan.slug]
    assert slugs(api_client.get("/api/v1/products/?category=home&min_price=50")) == [lamp.slug]
    assert slugs(api_client.get("/api/v1/products/?category=home&in_stock=false")) == [pan.slug]
    assert slugs(api_client.get("/api/v1/products/?category=nowhere")) == []
    assert_envelope(api_client.get("/api/v1/products/?min_price=cheap"), 400, "invalid")


@pytest.mark.parametrize(
    "query",
    ["currency=", "currency=XYZ", "min_price=", "max_price=", "in_stock=", "in_stock=maybe"],
)
def test_a_typed_filter_sent_empty_or_out_of_its_type_is_a_400(api_client, query):
    ProductFactory()
    error = assert_envelope(api_client.get(f"/api/v1/products/?{query}"), 400, "invalid")
    assert query.split("=")[0] in error["details"]["fields"]


def test_text_filters_and_known_currencies_still_filter(api_client):
    euro = ProductFactory(currency="EUR")
    ProductFactory(currency="USD")
    assert slugs(api_client.get("/api/v1/products/?currency=EUR")) == [euro.slug]
    assert len(slugs(api_client.get("/api/v1/products/?q=&category="))) == 2


def test_ordering_and_cursor_pagination_walk_every_product_once(api_client):
    made = [ProductFactory(price=Decimal(price)) for price in ("5", "3", "9", "1", "7")]
    assert slugs(api_client.get("/api/v1/products/?ordering=price&page_size=10")) == [
        p.slug for p in sorted(made, key=lambda p: p.price)
    ]
    seen, url = [], "/api/v1/products/?page_size=2"
    while url:
        page = api_client.get(url).json()
        seen += [p["slug"] for p in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(p.slug for p in made)


def test_images_are_listed_in_display_order_on_detail_and_list(api_client):
    product, bare = ProductFactory(), ProductFactory()
    for position, name in [(2, "c"), (0, "b"), (0, "a")]:  # ties broken by id: "b" before "a"
        ProductImage.objects.create(
            product=product, image=f"products/{name}.png", alt_text=name, position=position
        )
    expected = [
        {"url": f"/media/products/{name}.png", "alt_text": name} for name in ("b", "a", "c")
    ]
    assert api_client.get(f"/api/v1/products/{product.slug}/").json()["images"] == expected
    listed = {p["slug"]: p["images"] for p in api_client.get("/api/v1/products/").json()["results"]}
    assert listed == {product.slug: expected, bare.slug: []}


def test_a_cache_miss_product_page_is_one_query(api_client, django_assert_num_queries):
    product = ProductFactory()
    ProductImage.objects.create(product=product, image="products/x.png", alt_text="x")
    django_cache.clear()
    with django_assert_num_queries(1):
        detail = api_client.get(f"/api/v1/products/{product.slug}/").json()
    assert (detail["category"]["slug"], len(detail["images"])) == (product.category.slug, 1)


def test_list_queries_do_not_grow_with_page_size(api_client):
    for _ in range(30):
        ProductFactory()
    counts = []
    for size in (5, 30):
        django_cache.clear()
        with CaptureQueriesContext(connection) as captured:
            assert (
                len(api_client.get(f"/api/v1/products/?page_size={size}").json()["results"]) == size
            )
        counts.append(len(captured))
    assert counts[0] == counts[1] <= 2


@pytest.mark.django_db(transaction=True)
def test_cached_detail_makes_no_query_and_writes_invalidate_it(
    api_client, staff_client, django_assert_num_queries
):
    product = ProductFactory(name="Old name")
    url = f"/api/v1/products/{product.slug}/"
    assert api_client.get(url).json()["name"] == "Old name"
    with django_assert_num_queries(0):
        assert api_client.get(url).json()["name"] == "Old name"
    api_client.get("/api/v1/products/")
    with django_assert_num_queries(0):
        api_client.get("/api/v1/products/")

    updated = staff_client.patch(url, {"name": "New name"})
    assert updated.status_code == 200, updated.content
    assert api_client.get(url).json()["name"] == "New name"
    assert api_client.get("/api/v1/products/").json()["results"][0]["name"] == "New name"


@pytest.mark.django_db(transaction=True)
def test_stock_change_and_soft_delete_invalidate_the_cache(api_client, staff_client):
    product = ProductFactory(stock=5)
    url = f"/api/v1/products/{product.slug}/"
    api_client.get(url)
    api_client.get("/api/v1/products/")
    with transaction.atomic():
        services.product_change_stock(product=product, delta=-2)
    assert api_client.get(url).json()["stock"] == 3
    assert staff_client.delete(url).status_code == 204
    assert_envelope(api_client.get(url), 404)
    assert slugs(api_client.get("/api/v1/products/")) == []
    product.refresh_from_db()
    assert product.deleted_at is not None, "soft delete keeps the row"


def test_only_staff_write_the_catalog(user_client, staff_client, api_client):
    category = CategoryFactory()
    payload = {"name": "Desk", "category": category.slug, "price": "99.00", "stock": 4}
    assert_envelope(api_client.post("/api/v1/products/", payload), 401)
    assert_envelope(user_client.post("/api/v1/products/", payload), 403, "permission_denied")
    created = staff_client.post("/api/v1/products/", payload)
    assert created.status_code == 201, created.content
    assert created.json()["slug"] == "desk"
    assert_envelope(
        staff_client.post("/api/v1/products/", {**payload, "price": "-1"}), 400, "invalid"
    )


def test_categories_list_the_tree(api_client):
    parent = CategoryFactory(slug="outdoors", name="Outdoors")
    CategoryFactory(slug="camping", name="Camping", parent=parent)
    rows = {c["slug"]: c["parent"] for c in api_client.get("/api/v1/categories/").json()["results"]}
    assert rows == {"outdoors": None, "camping": "outdoors"}
