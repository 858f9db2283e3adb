"""Catalog read cache. Detail entries are per product and deleted on its writes; list pages
carry a generation number that every product write bumps, so no stale page survives a write."""

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

LIST_GENERATION_KEY = "catalog:list:generation"


def _generation() -> int:
    generation = cache.get(LIST_GENERATION_KEY)
    if generation is None:
        cache.add(LIST_GENERATION_KEY, 1, timeout=None)
        generation = cache.get(LIST_GENERATION_KEY) or 1
    return generation


def list_key(query_string: str) -> str:
    digest = hashlib.sha256(query_string.encode()).hexdigest()[:32]
    return f"catalog:list:{_generation()}:{digest}"


def detail_key(slug: str) -> str:
    return f"catalog:product:{slug}"


def get(key: str):
    return cache.get(key)


def put(key: str, value) -> None:
    cache.set(key, value, timeout=settings.CATALOG_CACHE_TIMEOUT)


def invalidate(*, slugs: Iterable[str] = ()) -> None:
    cache.delete_many([detail_key(slug) for slug in slugs])
    try:
        cache.incr(LIST_GENERATION_KEY)
    except ValueError:
        cache.set(LIST_GENERATION_KEY, 2, timeout=None)
