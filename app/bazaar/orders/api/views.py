import re

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from bazaar.common.errors import ApiError

from .. import selectors, services
from ..models import Order
from .serializers import CheckoutSerializer, OrderSerializer

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    pattern=IDEMPOTENCY_KEY.pattern,
    description="A unique key per checkout attempt; retries with the same key and body replay "
    "the first response.",
)


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends: list = []
    throttle_scope = "checkout"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Order.objects.none()
        return selectors.order_list(user=self.request.user)

    def get_throttles(self):
        return super().get_throttles() if self.action == "create" else []

    @extend_schema(
        request=CheckoutSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: OrderSerializer, 200: OrderSerializer},
    )
    def create(self, request):
        """Check out the cart."""
        key = request.headers.get("Idempotency-Key", "")
        if not IDEMPOTENCY_KEY.match(key):
            raise ApiError(
                "An Idempotency-Key header of 1 to 255 printable characters is required.",
                code="idempotency_key_required",
            )
        serializer = CheckoutSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            result = services.order_checkout(
                user=request.user,
                idempotency_key=key,
                fingerprint=services.request_fingerprint(request.data),
                shipping_address=serializer.validated_data.get("shipping_address"),
            )
            if result.replayed:
                return Response(
                    result.record.response_body,
                    status=result.record.response_status,
                    headers={"Idempotent-Replayed": "true"},
                )
            body = OrderSerializer(result.order).data
            services.idempotency_store_response(
                record=result.record, status=status.HTTP_201_CREATED, body=body
            )
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        order = services.order_cancel(order_id=order.pk)
        return Response(OrderSerializer(order).data)
