from decimal import Decimal

import factory

from bazaar.catalog import services
from bazaar.catalog.models import Category, Product


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    description = factory.Faker("sentence")
    price = Decimal("19.99")
    currency = "EUR"
    stock = 10

    @factory.post_generation
    def search_document(obj, create, extracted, **kwargs):
        if create:
            services.product_refresh_search(product_ids=[obj.pk])
