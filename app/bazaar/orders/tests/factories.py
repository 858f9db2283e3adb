from bazaar.carts import services as cart_services


def fill_cart(user, *products_and_quantities) -> None:
    for product, quantity in products_and_quantities:
        cart_services.cart_add_item(user=user, product=product, quantity=quantity)
