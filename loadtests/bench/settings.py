"""The bare-Django baseline: no middleware, no DRF, one app with one unmanaged model.

Served by ``bazaar web`` (the same gunicorn configuration) with
``DJANGO_SETTINGS_MODULE=loadtests.bench.settings``, on the same database connection settings
as the app (``DATABASE_URL``, ``DATABASE_POOLER``), so the ratio measures the stack, not the
database. It keeps Django's own backend and connection check (``SELECT 1`` before a request's
first query); the app's backend checks the socket instead (``bazaar/common/db``), and what that
saves is part of what the ratio measures.
"""

import environ

env = environ.Env()

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
INSTALLED_APPS = ["loadtests.bench"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "loadtests.bench.urls"
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env.str("DATABASE_POOLER", default="none") == "pgbouncer":
    # The same pooler-safe options the app uses (config/settings/base.py).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
