"""Version 1 of the public API: each domain contributes the routes of its ``api`` package."""

from django.urls import include, path

urlpatterns = [
    path("auth/", include("bazaar.accounts.api.urls")),
    path("", include("bazaar.catalog.api.urls")),
    path("", include("bazaar.reviews.api.urls")),
    path("", include("bazaar.carts.api.urls")),
    path("", include("bazaar.orders.api.urls")),
    path("", include("bazaar.payments.api.urls")),
]
