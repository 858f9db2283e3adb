from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from rest_framework import serializers

from bazaar.common.serializers import ModelSerializer, StrictCharField

from ..models import Address, User


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    # Django's password validators run in validate(); the pattern puts the one a schema can say
    # (not only digits) into the OpenAPI schema too.
    password = StrictCharField(
        write_only=True,
        min_length=8,
        max_length=128,
        validators=[RegexValidator(r"\D", "This password is entirely numeric.")],
    )
    full_name = StrictCharField(max_length=150, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        candidate = User(email=attrs["email"], full_name=attrs.get("full_name", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class UserSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "date_joined"]
        read_only_fields = ["id", "email", "date_joined"]


class AddressSerializer(ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "id",
            "full_name",
            "line1",
            "line2",
            "city",
            "postal_code",
            "country",
            "is_default",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            "country": {
                "validators": [
                    RegexValidator(r"^[A-Za-z]{2}$", "Use a two-letter ISO 3166-1 country code.")
                ]
            }
        }

    def validate_country(self, value: str) -> str:
        return value.upper()
