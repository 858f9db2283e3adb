"""Review reads: a product's reviews may be a moment old (``lag_tolerant``)."""

from django.db.models import QuerySet

from bazaar.common.db.replica import lag_tolerant

from .models import Review


def review_list(*, product_id: int) -> QuerySet[Review]:
    return lag_tolerant(Review.objects).filter(product_id=product_id).select_related("user")
