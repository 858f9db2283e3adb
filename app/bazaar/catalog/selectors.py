"""Catalog reads. The shop's pages may be a moment old, so they may come from the read replica
(``lag_tolerant``); what checkout locks and prices comes from the primary."""

import functools

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import JSONField, Q, QuerySet
from django.db.models.expressions import RawSQL

from bazaar.common.db.replica import lag_tolerant

from .models import Category, Product, ProductImage


def category_descendant_ids(*, category: Category) -> list[int]:
    """The category and everything below it (breadth-first; trees are shallow)."""
    ids, frontier = [category.pk], [category.pk]
    while frontier:
        frontier = list(
            lag_tolerant(Category.objects)
            .filter(parent_id__in=frontier)
            .values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


def category_find(*, slug: str) -> Category | None:
    return lag_tolerant(Category.objects).filter(slug=slug).first()


def category_list() -> QuerySet[Category]:
    return lag_tolerant(Category.objects).select_related("parent")


def product_list() -> QuerySet[Product]:
    return _product_list_template().all()


@functools.cache
def _product_list_template() -> QuerySet[Product]:
    """Built once per process and only ever cloned (``.all()``), never evaluated: putting this
    queryset together costs more than a product page's whole query, and it never changes."""
    # The full-text document is for the WHERE clause only; fetching it would double each row.
    products = (
        lag_tolerant(Product.objects).visible().defer("search_vector").select_related("category")
    )
    return _with_images(products)


def _with_images(products: QuerySet[Product]) -> QuerySet[Product]:
    """Each product's images, for ``product_images``.

    On Postgres they ride along in the product query itself, as an array of JSON objects from a
    correlated subquery: a product page is one round trip instead of two (the second query of a
    prefetch was a third of a cache-miss product request). Elsewhere, a prefetch.
    """
    if connection.vendor != "postgresql":
        return products.prefetch_related("images")
    return products.annotate(image_rows=_image_rows_sql())


def _image_rows_sql() -> RawSQL:
    # Written out rather than an ``ArraySubquery``: compiling the ORM's subquery on every
    # request cost more than running it. ``catalog_product`` is the query's base table, so its
    # table name is its alias. The catalog API tests check the images and their order.
    return RawSQL(
        "ARRAY(SELECT jsonb_build_object('image', i.image, 'alt_text', i.alt_text)"
        " FROM catalog_productimage i WHERE i.product_id = catalog_product.id"
        " ORDER BY i.position, i.id)",
        (),
        output_field=ArrayField(JSONField()),
    )


def product_images(product: Product) -> list[ProductImage]:
    """The images of a product from ``product_list``, in display order, without a query."""
    rows = getattr(product, "image_rows", None)
    if rows is None:
        return list(product.images.all())
    return [ProductImage(product_id=product.pk, **row) for row in rows]


def product_search(queryset: QuerySet[Product], *, text: str) -> QuerySet[Product]:
    text = text.strip()
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        return queryset.filter(
            search_vector=SearchQuery(text, search_type="websearch", config="english")
        )
    return queryset.filter(Q(name__icontains=text) | Q(description__icontains=text))


def product_get_visible(*, slug: str) -> Product:
    return product_list().get(slug=slug)


def products_for_checkout(*, product_ids) -> QuerySet[Product]:
    return Product.objects.filter(pk__in=product_ids)
