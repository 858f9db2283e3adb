import django_filters
import django_filters.rest_framework
from django.db.models import QuerySet

from bazaar.common.money import Currency

from .. import selectors
from ..models import Product

TYPED_FILTERS = (
    django_filters.NumberFilter,
    django_filters.BooleanFilter,
    django_filters.ChoiceFilter,
)


class ProductFilter(django_filters.FilterSet):
    """Browse filters. A typed parameter that is sent but says nothing (``?currency=``,
    ``?min_price=``, ``?in_stock=maybe``) is a 400 like any other value its schema refuses;
    django-filter would drop it silently. The text filters take an empty string as "no
    filter", as a search box sends it."""

    q = django_filters.CharFilter(method="search", max_length=200, label="Full-text search")
    category = django_filters.CharFilter(
        method="in_category", max_length=140, label="Category slug (includes subcategories)"
    )
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte")
    in_stock = django_filters.rest_framework.BooleanFilter(method="filter_in_stock")
    currency = django_filters.ChoiceFilter(field_name="currency", choices=Currency.choices)

    class Meta:
        model = Product
        fields = ["q", "category", "min_price", "max_price", "in_stock", "currency"]

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, parameter in self.filters.items():
            if (
                isinstance(parameter, TYPED_FILTERS)
                and name in self.data
                and name not in self.form.errors
                and self.form.cleaned_data.get(name) in (None, "")
            ):
                self.form.add_error(name, "Send a value of the parameter's type, or leave it out.")
                valid = False
        return valid

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.product_search(queryset, text=value)

    def in_category(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        category = selectors.category_find(slug=value)
        if category is None:
            return queryset.none()
        return queryset.filter(category_id__in=selectors.category_descendant_ids(category=category))

    def filter_in_stock(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(stock__gt=0) if value else queryset.filter(stock=0)
