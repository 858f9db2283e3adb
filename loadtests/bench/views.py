"""Each view makes one ORM query and renders JSON: the least a Django endpoint can do."""

from django.http import Http404, HttpRequest, JsonResponse

from .models import Product

FIELDS = ("id", "slug", "name", "description", "price", "currency", "stock", "created_at")
PAGE_SIZE = 20


def _visible():
    return Product.objects.filter(is_active=True, deleted_at__isnull=True).values(*FIELDS)


def product_detail(request: HttpRequest, slug: str) -> JsonResponse:
    product = _visible().filter(slug=slug).first()
    if product is None:
        raise Http404
    return JsonResponse(product)


def product_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"results": list(_visible().order_by("-created_at", "-id")[:PAGE_SIZE])})
