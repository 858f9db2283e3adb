from django.shortcuts import get_object_or_404
from rest_framework import generics, permissions

from bazaar.catalog import selectors as catalog_selectors
from bazaar.catalog.models import Product
from bazaar.common.db.replica import replica_reads

from .. import selectors, services
from .serializers import ReviewSerializer


class ProductReviewListView(generics.ListCreateAPIView):
    serializer_class = ReviewSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]
    filter_backends: list = []
    throttle_scope = "reviews"

    def get_product(self) -> Product:
        return get_object_or_404(catalog_selectors.product_list(), slug=self.kwargs["slug"])

    def get_queryset(self):
        return selectors.review_list(product_id=self.get_product().pk)

    @replica_reads
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.review_create(
            product=self.get_product(), user=self.request.user, **serializer.validated_data
        )

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []
