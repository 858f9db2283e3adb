from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "bazaar.reviews"
    label = "reviews"
