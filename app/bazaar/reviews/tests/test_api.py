from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bazaar.accounts.tests.factories import UserFactory
from bazaar.accounts.tests.test_api import assert_envelope
from bazaar.catalog.tests.factories import ProductFactory
from bazaar.reviews import services

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_review_updates_the_products_average_and_count(user_client, other_client, api_client):
    product = ProductFactory()
    url = f"/api/v1/products/{product.slug}/reviews/"
    api_client.get(f"/api/v1/products/{product.slug}/")  # warm the cache
    assert user_client.post(url, {"rating": 5, "title": "Great"}).status_code == 201
    assert other_client.post(url, {"rating": 2}).status_code == 201
    rating = api_client.get(f"/api/v1/products/{product.slug}/").json()["rating"]
    assert rating == {"average": "3.50", "count": 2}
    assert len(api_client.get(url).json()["results"]) == 2


def test_one_review_per_user_and_rating_bounds(user_client, api_client):
    url = f"/api/v1/products/{ProductFactory().slug}/reviews/"
    assert_envelope(api_client.post(url, {"rating": 4}), 401)
    for bad in (0, 6, "five"):
        assert_envelope(user_client.post(url, {"rating": bad}), 400, "invalid")
    assert user_client.post(url, {"rating": 4}).status_code == 201
    assert_envelope(user_client.post(url, {"rating": 3}), 409, "already_reviewed")
    assert_envelope(user_client.post("/api/v1/products/missing/reviews/", {"rating": 3}), 404)


def test_list_shows_ratings_without_a_query_per_product(api_client):
    for _ in range(12):
        product = ProductFactory()
        for rating in (3, 4):
            services.review_create(product=product, user=UserFactory(), rating=rating)
    with CaptureQueriesContext(connection) as captured:
        results = api_client.get("/api/v1/products/?page_size=12").json()["results"]
    assert len(results) == 12
    assert {r["rating"]["average"] for r in results} == {str(Decimal("3.50"))}
    assert len(captured) <= 3
