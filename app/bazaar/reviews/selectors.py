from django.db.models import QuerySet

from .models import Review


def review_list(*, product_id: int) -> QuerySet[Review]:
    return Review.objects.filter(product_id=product_id).select_related("user")
