from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "bazaar.catalog"
    label = "catalog"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the cache invalidation receivers
