from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bazaar.common.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, Currency
from bazaar.common.serializers import ModelSerializer

from .. import selectors
from ..models import Category, Product, ProductImage


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent"]


# The read serializers below are plain ``Serializer``s on purpose: a ``ModelSerializer``
# introspects the model on every instantiation, which costs more than the rest of a cache-miss
# product request put together.


class CategoryBriefSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    slug = serializers.SlugField(read_only=True)


class ProductImageSerializer(serializers.Serializer):
    url = serializers.SerializerMethodField()
    alt_text = serializers.CharField(read_only=True)

    def get_url(self, image: ProductImage) -> str:
        return image.image.url


class RatingSerializer(serializers.Serializer):
    average = serializers.DecimalField(max_digits=3, decimal_places=2, allow_null=True)
    count = serializers.IntegerField()


class ProductSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    category = CategoryBriefSerializer(read_only=True)
    price = serializers.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, read_only=True
    )
    currency = serializers.ChoiceField(choices=Currency.choices, read_only=True)
    stock = serializers.IntegerField(read_only=True)
    in_stock = serializers.BooleanField(read_only=True)
    rating = serializers.SerializerMethodField()
    images = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(RatingSerializer)
    def get_rating(self, product: Product) -> dict:
        average = product.rating_average
        return {
            "average": None if average is None else f"{average:.2f}",
            "count": product.rating_count,
        }

    @extend_schema_field(ProductImageSerializer(many=True))
    def get_images(self, product: Product) -> list:
        images = selectors.product_images(product)
        return [_IMAGE_READER.to_representation(image) for image in images]


# Making a serializer deep-copies its declared fields, which costs as much as the rest of the
# serializing. Reading with no context is stateless, so one instance of each read serializer
# serves every request on every thread.
_PRODUCT_READER = ProductSerializer()
_IMAGE_READER = ProductImageSerializer()


def product_data(product: Product) -> dict:
    """The representation of one product, as ``ProductSerializer(product).data``."""
    return _PRODUCT_READER.to_representation(product)


class ProductWriteSerializer(ModelSerializer):
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
