from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Q, QuerySet

from .models import Category, Product


def category_descendant_ids(*, category: Category) -> list[int]:
    """The category and everything below it (breadth-first; trees are shallow)."""
    ids, frontier = [category.pk], [category.pk]
    while frontier:
        frontier = list(
            Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent")


def product_list() -> QuerySet[Product]:
    # The full-text document is for the WHERE clause only; fetching it would double each row.
    return (
        Product.objects.visible()
        .defer("search_vector")
        .select_related("category")
        .prefetch_related("images")
    )


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
