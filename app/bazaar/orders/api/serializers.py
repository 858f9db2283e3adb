from rest_framework import serializers

from bazaar.accounts.models import Address

from ..models import Order, OrderLine


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["product_slug", "product_name", "unit_price", "quantity", "line_total"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "currency",
            "total",
            "lines",
            "shipping_address",
            "created_at",
            "expires_at",
            "paid_at",
        ]
        read_only_fields = fields


class CheckoutSerializer(serializers.Serializer):
    shipping_address = serializers.PrimaryKeyRelatedField(
        queryset=Address.objects.none(),
        required=False,
        allow_null=True,
        help_text="Id of one of your addresses",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = getattr(self.context.get("request"), "user", None)
        # Someone else's address is reported exactly like one that does not exist.
        if user is not None and user.is_authenticated:
            self.fields["shipping_address"].queryset = Address.objects.filter(user=user)
