from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count

from bazaar.catalog import services as catalog_services
from bazaar.catalog.models import Product
from bazaar.common.errors import Conflict

from .models import Review


@transaction.atomic
def review_create(
    *, product: Product, user, rating: int, title: str = "", body: str = ""
) -> Review:
    try:
        with transaction.atomic():
            review = Review.objects.create(
                product=product, user=user, rating=rating, title=title, body=body
            )
    except IntegrityError as exc:
        raise Conflict("You have already reviewed this product.", code="already_reviewed") from exc
    _refresh_rating_summary(product_id=product.pk)
    return review


def _refresh_rating_summary(*, product_id: int) -> None:
    summary = Review.objects.filter(product_id=product_id).aggregate(
        average=Avg("rating"), count=Count("id")
    )
    average = summary["average"]
    catalog_services.product_set_rating_summary(
        product_id=product_id,
        average=Decimal(str(round(average, 2))) if average is not None else None,
        count=summary["count"],
    )
