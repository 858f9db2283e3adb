from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.product_list),
    path("products/<slug:slug>/", views.product_detail),
]
