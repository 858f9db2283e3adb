import importlib
import importlib.util

from django.apps import AppConfig, apps


class CommonConfig(AppConfig):
    name = "bazaar.common"
    label = "common"
    verbose_name = "Common"

    def ready(self) -> None:
        from . import celery, sentry

        sentry.init_sentry()
        celery.connect_signals()
        _import_task_modules()


def _import_task_modules() -> None:
    """Register every app's tasks in web processes too: the outbox sends them by name, and a
    worker's autodiscovery does not run there."""
    for config in apps.get_app_configs():
        module = f"{config.name}.tasks"
        if config.name.startswith("bazaar.") and importlib.util.find_spec(module):
            importlib.import_module(module)
