from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import CartItem
from .serializers import (
    CartItemAddSerializer,
    CartItemSerializer,
    CartItemUpdateSerializer,
    CartSerializer,
)


def _cart_response(user, status_code=status.HTTP_200_OK) -> Response:
    cart = selectors.cart_get_for_user(user=user)
    items = list(selectors.cart_items(cart=cart))
    return Response(CartSerializer(cart, context={"items": items}).data, status=status_code)


class CartView(APIView):
    """The signed-in user's cart."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=CartSerializer)
    def get(self, request):
        return _cart_response(request.user)

    @extend_schema(responses={204: None})
    def delete(self, request):
        services.cart_clear(cart=selectors.cart_get_for_user(user=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CartItemListView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=CartItemAddSerializer, responses={201: CartSerializer})
    def post(self, request):
        serializer = CartItemAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.cart_add_item(user=request.user, **serializer.validated_data)
        return _cart_response(request.user, status.HTTP_201_CREATED)


class CartItemDetailView(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = CartItemSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return CartItem.objects.none()
        return selectors.cart_item_list_for_user(user=self.request.user)

    @extend_schema(request=CartItemUpdateSerializer, responses=CartSerializer)
    def patch(self, request, pk: int):
        item = self.get_object()
        serializer = CartItemUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.cart_update_item(item=item, **serializer.validated_data)
        return _cart_response(request.user)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.cart_remove_item(item=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
