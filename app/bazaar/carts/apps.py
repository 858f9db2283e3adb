from django.apps import AppConfig


class CartsConfig(AppConfig):
    name = "bazaar.carts"
    label = "carts"
