from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "bazaar.notifications"
    label = "notifications"
