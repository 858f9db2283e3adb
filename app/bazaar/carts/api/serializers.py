from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bazaar.catalog.models import Product
from bazaar.common.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, quantize

from ..models import Cart, CartItem

MONEY = serializers.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)


class CartProductSerializer(serializers.ModelSerializer):
    # Declared, so the schema does not take the database's integer range (it differs between
    # Postgres and SQLite).
    stock = serializers.IntegerField(read_only=True)

    class Meta:
        model = Product
        fields = ["id", "slug", "name", "price", "currency", "stock"]


class CartItemSerializer(serializers.ModelSerializer):
    product = CartProductSerializer(read_only=True)
    line_total = serializers.SerializerMethodField()

    class Meta:
        model = CartItem
        fields = ["id", "product", "quantity", "line_total", "added_at"]
        read_only_fields = fields

    @extend_schema_field(MONEY)
    def get_line_total(self, item: CartItem) -> str:
        return str(quantize(item.product.price * item.quantity))


class CartItemAddSerializer(serializers.Serializer):
    product = serializers.SlugRelatedField(
        slug_field="slug", queryset=Product.objects.visible(), help_text="Product slug"
    )
    quantity = serializers.IntegerField(min_value=1, max_value=1000, default=1)


class CartItemUpdateSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=1000)


class CartSerializer(serializers.ModelSerializer):
    items = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()

    class Meta:
        model = Cart
        fields = ["items", "total", "currency", "updated_at"]

    def _items(self, cart: Cart) -> list[CartItem]:
        return self.context["items"]

    @extend_schema_field(CartItemSerializer(many=True))
    def get_items(self, cart: Cart) -> list[dict]:
        return CartItemSerializer(self._items(cart), many=True).data

    @extend_schema_field(MONEY)
    def get_total(self, cart: Cart) -> str:
        items = self._items(cart)
        return str(quantize(sum((i.product.price * i.quantity for i in items), Decimal(0))))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_currency(self, cart: Cart) -> str | None:
        items = self._items(cart)
        return items[0].product.currency if items else None
