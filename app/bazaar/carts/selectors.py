from django.db.models import QuerySet

from .models import Cart, CartItem


def cart_get_for_user(*, user) -> Cart:
    cart, _ = Cart.objects.get_or_create(user=user)
    return cart


def cart_items(*, cart: Cart) -> QuerySet[CartItem]:
    return cart.items.select_related("product", "product__category")


def cart_item_list_for_user(*, user) -> QuerySet[CartItem]:
    return CartItem.objects.filter(cart__user=user).select_related("product")
