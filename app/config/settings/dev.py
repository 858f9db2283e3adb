"""Local development: ``make run`` (SQLite, local-memory cache, tasks in-process)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-key-only-for-make-run-not-for-production")
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = configure_logging(log_format=LOG_FORMAT, level=LOG_LEVEL)  # noqa: F405
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [  # noqa: F405
    "rest_framework.renderers.JSONRenderer",
    "rest_framework.renderers.BrowsableAPIRenderer",
]
