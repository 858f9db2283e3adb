from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "bazaar.common"
    label = "common"
    verbose_name = "Common"

    def ready(self) -> None:
        from . import celery, sentry

        sentry.init_sentry()
        celery.connect_signals()
