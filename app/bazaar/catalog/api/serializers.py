from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bazaar.common.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

from ..models import Category, Product, ProductImage


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent"]


class CategoryBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["name", "slug"]


class ProductImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["url", "alt_text"]

    def get_url(self, image: ProductImage) -> str:
        return image.image.url


class RatingSerializer(serializers.Serializer):
    average = serializers.DecimalField(max_digits=3, decimal_places=2, allow_null=True)
    count = serializers.IntegerField()


class ProductSerializer(serializers.ModelSerializer):
    category = CategoryBriefSerializer(read_only=True)
    rating = serializers.SerializerMethodField()
    images = ProductImageSerializer(many=True, read_only=True)
    in_stock = serializers.BooleanField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "category",
            "price",
            "currency",
            "stock",
            "in_stock",
            "rating",
            "images",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RatingSerializer)
    def get_rating(self, product: Product) -> dict:
        return RatingSerializer(
            {"average": product.rating_average, "count": product.rating_count}
        ).data


class ProductWriteSerializer(serializers.ModelSerializer):
    """Staff only: what a catalog manager may set."""

    category = serializers.SlugRelatedField(slug_field="slug", queryset=Category.objects.all())
    price = serializers.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        min_value=Decimal("0"),
    )
    stock = serializers.IntegerField(min_value=0, max_value=1_000_000)

    class Meta:
        model = Product
        fields = ["name", "description", "category", "price", "currency", "stock", "is_active"]
