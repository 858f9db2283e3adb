from rest_framework import serializers

from bazaar.common.serializers import ModelSerializer

from ..models import Review


class ReviewSerializer(ModelSerializer):
    author = serializers.SerializerMethodField()
    rating = serializers.IntegerField(min_value=1, max_value=5)

    class Meta:
        model = Review
        fields = ["id", "rating", "title", "body", "author", "created_at"]
        read_only_fields = ["id", "author", "created_at"]

    def get_author(self, review: Review) -> str:
        return review.user.full_name or review.user.email.split("@", 1)[0]
