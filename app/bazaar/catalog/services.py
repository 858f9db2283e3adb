"""Catalog writes. Every write path ends by invalidating the read cache after commit."""

from collections.abc import Iterable
from decimal import Decimal

from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import F
from django.utils.text import slugify

from bazaar.common.errors import Conflict

from . import cache
from .models import Category, Product


def _invalidate_on_commit(slugs: Iterable[str]) -> None:
    slugs = list(slugs)
    transaction.on_commit(lambda: cache.invalidate(slugs=slugs))


def product_refresh_search(*, product_ids: Iterable[int] | None = None) -> None:
    """Recompute the full-text document (Postgres only; SQLite searches with LIKE)."""
    if connection.vendor != "postgresql":
        return
    products = Product.objects.all()
    if product_ids is not None:
        products = products.filter(pk__in=list(product_ids))
    products.update(
        search_vector=SearchVector("name", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
    )


def unique_slug(name: str, *, model=Product) -> str:
    base = slugify(name)[:200] or "item"
    slug, suffix = base, 2
    while model.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


@transaction.atomic
def category_create(*, name: str, parent: Category | None = None) -> Category:
    category = Category.objects.create(
        name=name, slug=unique_slug(name, model=Category), parent=parent
    )
    _invalidate_on_commit([])
    return category


@transaction.atomic
def product_create(
    *,
    category: Category,
    name: str,
    price: Decimal,
    currency: str = "EUR",
    stock: int = 0,
    description: str = "",
    is_active: bool = True,
) -> Product:
    product = Product.objects.create(
        category=category,
        name=name,
        slug=unique_slug(name),
        price=price,
        currency=currency,
        stock=stock,
        description=description,
        is_active=is_active,
    )
    product_refresh_search(product_ids=[product.pk])
    _invalidate_on_commit([product.slug])
    return product


@transaction.atomic
def product_update(*, product: Product, **fields) -> Product:
    for name, value in fields.items():
        setattr(product, name, value)
    product.save()
    if {"name", "description"} & fields.keys():
        product_refresh_search(product_ids=[product.pk])
    _invalidate_on_commit([product.slug])
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Soft delete: orders keep pointing at it, the catalog stops showing it."""
    product.soft_delete()
    product.save(update_fields=["deleted_at", "is_active", "updated_at"])
    _invalidate_on_commit([product.slug])


def products_lock_for_checkout(*, product_ids: Iterable[int]) -> dict[int, Product]:
    """Lock the products in id order (so concurrent checkouts cannot deadlock) for the rest of
    the caller's transaction."""
    products = Product.objects.select_for_update().filter(pk__in=set(product_ids)).order_by("pk")
    return {product.pk: product for product in products}


def product_change_stock(*, product: Product, delta: int) -> None:
    """Add ``delta`` (negative to take) to a product locked by the caller's transaction."""
    if product.stock + delta < 0:
        raise Conflict(
            f"Only {product.stock} of {product.name} left.",
            code="out_of_stock",
            details={"product": product.slug, "available": product.stock},
        )
    Product.objects.filter(pk=product.pk).update(stock=F("stock") + delta)
    product.stock += delta
    _invalidate_on_commit([product.slug])


def product_set_rating_summary(*, product_id: int, average: Decimal | None, count: int) -> None:
    slug = Product.objects.filter(pk=product_id).values_list("slug", flat=True).first()
    Product.objects.filter(pk=product_id).update(rating_average=average, rating_count=count)
    if slug:
        _invalidate_on_commit([slug])
