from django_filters import NumberFilter
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from bazaar.common import pagination
from bazaar.common.db.replica import replica_reads

from .. import cache, selectors, services
from .filters import ProductFilter
from .serializers import (
    CategorySerializer,
    ProductSerializer,
    ProductWriteSerializer,
    product_data,
)


class CategoryPagination(pagination.CursorPagination):
    ordering = "name"


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CategorySerializer
    permission_classes = [permissions.AllowAny]
    pagination_class = CategoryPagination
    filter_backends: list = []
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.category_list()

    @replica_reads
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @replica_reads
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


# Bounds the filters enforce and django-filter's schema extension leaves out of the schema.
LIST_PARAMETERS = [
    *(
        OpenApiParameter(
            name,
            {"type": "number", "maximum": NumberFilter().get_max_validator().limit_value},
        )
        for name in ("min_price", "max_price")
    ),
    *(
        OpenApiParameter(
            name,
            {"type": "string", "maxLength": ProductFilter.base_filters[name].extra["max_length"]},
            description=ProductFilter.base_filters[name].label,
        )
        for name in ("q", "category")
    ),
    OpenApiParameter("in_stock", OpenApiTypes.BOOL),
]


@extend_schema_view(
    list=extend_schema(parameters=LIST_PARAMETERS),
    create=extend_schema(request=ProductWriteSerializer, responses={201: ProductSerializer}),
    partial_update=extend_schema(request=ProductWriteSerializer, responses=ProductSerializer),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The catalog. Reads are public and served from the cache, else from the read replica when
    there is one; writes are for staff."""

    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ProductFilter
    ordering_fields = ["price", "created_at", "name", "rating_average"]
    ordering = ["-created_at"]
    lookup_field = "slug"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.product_list()

    def get_permissions(self):
        if self.request is not None and self.request.method in permissions.SAFE_METHODS:
            return [permissions.AllowAny()]
        return [permissions.IsAdminUser()]

    def filter_queryset(self, queryset):
        # Search, filters and ordering shape lists; a detail lookup by slug needs none of them
        # (and building the FilterSet is a fifth of a cache-miss detail request).
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_class(self):
        if self.action in {"create", "partial_update"}:
            return ProductWriteSerializer
        return ProductSerializer

    @replica_reads
    def list(self, request, *args, **kwargs):
        key = cache.list_key(request.get_host() + request.get_full_path())
        data = cache.get(key)
        if data is None:
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            data = self.get_paginated_response([product_data(product) for product in page]).data
            cache.put(key, data)
        return Response(data)

    @replica_reads
    def retrieve(self, request, *args, **kwargs):
        key = cache.detail_key(kwargs[self.lookup_field])
        data = cache.get(key)
        if data is None:
            data = product_data(self.get_object())
            cache.put(key, data)
        return Response(data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(**serializer.validated_data)
        return Response(product_data(product), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        product = self.get_object()
        serializer = self.get_serializer(product, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        product = services.product_update(product=product, **serializer.validated_data)
        return Response(product_data(product))

    def destroy(self, request, *args, **kwargs):
        services.product_delete(product=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
