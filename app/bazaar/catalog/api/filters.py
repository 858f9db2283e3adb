import django_filters
from django.db.models import QuerySet

from .. import selectors
from ..models import Category, Product


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=200, label="Full-text search")
    category = django_filters.CharFilter(
        method="in_category", max_length=140, label="Category slug (includes subcategories)"
    )
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte")
    in_stock = django_filters.BooleanFilter(method="filter_in_stock")
    currency = django_filters.CharFilter(field_name="currency", max_length=3)

    class Meta:
        model = Product
        fields = ["q", "category", "min_price", "max_price", "in_stock", "currency"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.product_search(queryset, text=value)

    def in_category(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        category = Category.objects.filter(slug=value).first()
        if category is None:
            return queryset.none()
        return queryset.filter(category_id__in=selectors.category_descendant_ids(category=category))

    def filter_in_stock(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(stock__gt=0) if value else queryset.filter(stock=0)
