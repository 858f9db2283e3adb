from django.conf import settings
from django.db import transaction

from bazaar.catalog.models import Product
from bazaar.common.errors import Conflict

from .models import Cart, CartItem
from .selectors import cart_get_for_user


def _check_quantity(*, product: Product, quantity: int) -> None:
    if not product.is_active or product.deleted_at is not None:
        raise Conflict(f"{product.name} is no longer sold.", code="product_unavailable")
    if quantity > settings.MAX_CART_LINE_QUANTITY:
        raise Conflict(
            f"At most {settings.MAX_CART_LINE_QUANTITY} of one product per order.",
            code="quantity_limit",
            details={"max_quantity": settings.MAX_CART_LINE_QUANTITY},
        )
    if quantity > product.stock:
        raise Conflict(
            f"Only {product.stock} of {product.name} left.",
            code="out_of_stock",
            details={"product": product.slug, "available": product.stock},
        )


@transaction.atomic
def cart_add_item(*, user, product: Product, quantity: int) -> CartItem:
    """Add to the line of this product (created if missing)."""
    cart = cart_get_for_user(user=user)
    item = CartItem.objects.select_for_update().filter(cart=cart, product=product).first()
    total = quantity + (item.quantity if item else 0)
    _check_quantity(product=product, quantity=total)
    if item is None:
        return CartItem.objects.create(cart=cart, product=product, quantity=quantity)
    item.quantity = total
    item.save(update_fields=["quantity"])
    return item


@transaction.atomic
def cart_update_item(*, item: CartItem, quantity: int) -> CartItem:
    _check_quantity(product=item.product, quantity=quantity)
    item.quantity = quantity
    item.save(update_fields=["quantity"])
    return item


def cart_remove_item(*, item: CartItem) -> None:
    item.delete()


def cart_clear(*, cart: Cart) -> None:
    cart.items.all().delete()
