"""Settings shared by every environment.

Everything is read from the environment through the one ``env`` object (12-factor). No setting
exists only in production: ``prod.py`` tightens what is read here, it never adds a knob.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from bazaar.common.db.config import POSTGRES_ENGINE, replica_database
from bazaar.common.logging import configure_logging
from bazaar.common.slices import SLICES

APP_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt",
    "django_filters",
    "drf_spectacular",
    "django_prometheus",
    "django_structlog",
    "bazaar.common",
    "bazaar.accounts",
    "bazaar.catalog",
    "bazaar.reviews",
    "bazaar.carts",
    "bazaar.orders",
    "bazaar.payments",
    "bazaar.notifications",
]

MIDDLEWARE = [
    "bazaar.common.middleware.ProbeMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "bazaar.common.middleware.RequestIdHeaderMiddleware",
    # Inside django-structlog's middleware, so the access line carries the request id.
    "bazaar.common.middleware.ServerTimingMiddleware",
    "bazaar.common.middleware.ErrorEnvelopeMiddleware",
    "bazaar.common.middleware.BodySizeLimitMiddleware",
    "bazaar.common.middleware.RequestTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
# One URL slice (bazaar/common/slices.py) for a web Deployment of its own; empty: every path.
WEB_SLICE = env.str("WEB_SLICE", default="")
if WEB_SLICE and WEB_SLICE not in SLICES:
    raise ImproperlyConfigured(
        f"WEB_SLICE={WEB_SLICE!r} is not a slice; choose one of {', '.join(SLICES)} "
        "or leave it empty to serve every path."
    )
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# DATABASE_URL is what the app talks to (PgBouncer when it is in front); DATABASE_DIRECT_URL
# reaches Postgres itself and is used only for migrations and their advisory lock.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{APP_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # django-prometheus' backend with a health check that makes no round trip.
    DATABASES["default"]["ENGINE"] = POSTGRES_ENGINE
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DATABASE_CONNECT_TIMEOUT", default=5
    )
DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default="")
DATABASE_POOLER = env.str("DATABASE_POOLER", default="none")
if DATABASE_POOLER == "pgbouncer":
    # Transaction pooling hands each transaction to any server connection, so nothing may
    # outlive a transaction: no server-side cursors (DECLARE lives in the session) and no
    # prepared statements (psycopg would prepare on one server and execute on another).
    # The server's timezone is UTC, so Django never issues a session-level SET TIME ZONE.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
# DATABASE_REPLICA_URL, when set, is a streaming replica (behind its own PgBouncer pool in the
# chart) for the catalog reads that tolerate lag (bazaar/common/db/replica.py); everything else
# stays on DATABASE_URL. Unset, there is no `replica` alias and no router.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_RETRY_SECONDS = env.float("DATABASE_REPLICA_RETRY_SECONDS", default=10.0)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = replica_database(
        DATABASE_REPLICA_URL,
        primary=DATABASES["default"],
        connect_timeout=env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2),
    )
    DATABASE_ROUTERS = ["bazaar.common.db.replica.PrimaryReplicaRouter"]

# --- Cache --------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=0.25)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "bazaar",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": CACHE_SOCKET_TIMEOUT,
                "SOCKET_TIMEOUT": CACHE_SOCKET_TIMEOUT,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "bazaar",
        }
    }
# A Redis outage degrades the cache to a miss instead of failing the request.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "bazaar.cache"
CATALOG_CACHE_TIMEOUT = env.int("CATALOG_CACHE_TIMEOUT", default=300)

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# Without a broker (``make run``) tasks run in-process, right after the commit that queued them.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "payments.*": {"queue": "payments"},
    "notifications.*": {"queue": "notifications"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
}
# Publishing gives up fast: the outbox keeps the message and the relay sends it later.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2}
CELERY_BEAT_MAX_LOOP_INTERVAL = env.int("CELERY_BEAT_MAX_LOOP_INTERVAL", default=5)
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME",
    default="/tmp/bazaar-celerybeat-schedule",  # noqa: S108
)
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "common.relay_outbox", "schedule": 5.0},
    "expire-unpaid-orders": {"task": "orders.expire_unpaid_orders", "schedule": 60.0},
}
CELERY_HEARTBEAT_FILE = env.str("CELERY_HEARTBEAT_FILE", default="/tmp/bazaar-worker-heartbeat")  # noqa: S108
CELERY_READY_FILE = env.str("CELERY_READY_FILE", default="/tmp/bazaar-worker-ready")  # noqa: S108
CELERY_BEAT_TICK_FILE = env.str("CELERY_BEAT_TICK_FILE", default="/tmp/bazaar-beat-tick")  # noqa: S108
METRICS_PORT = env.int("METRICS_PORT", default=9808)

# --- Auth and API -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_LOCKOUT_ATTEMPTS = env.int("LOGIN_LOCKOUT_ATTEMPTS", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["bazaar.common.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "bazaar.common.pagination.CursorPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "bazaar.common.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bazaar.common.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["bazaar.common.throttling.ScopedThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH", default="30/min"),
        "checkout": env.str("THROTTLE_CHECKOUT", default="120/min"),
        "reviews": env.str("THROTTLE_REVIEWS", default="30/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Proxies in front of the app (ingress or load balancer): throttles key on the client
    # address they saw, not on an X-Forwarded-For a client can forge.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=1),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bazaar API",
    "DESCRIPTION": (
        "The Bazaar shop: catalog, carts, orders with safe checkout, payments.\n\n"
        "Bodies are JSON, in UTF-8 unless the Content-Type names another charset. Text "
        "anywhere in a request (body, path, query string) must not contain NUL (U+0000) or "
        "unpaired surrogates, objects must not repeat a key, integers have at most 4,300 digits "
        "and other numbers fit a double, and nesting stops at 32 levels: anything else is a 400 "
        "in the error envelope."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "bazaar.orders.models.Order.Status",
        "PaymentStatusEnum": "bazaar.payments.models.Payment.Status",
    },
}

# --- Shop ---------------------------------------------------------------------------------
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="EUR")
ORDER_PAYMENT_TIMEOUT_MINUTES = env.int("ORDER_PAYMENT_TIMEOUT_MINUTES", default=30)
MAX_CART_LINE_QUANTITY = env.int("MAX_CART_LINE_QUANTITY", default=99)
PAYMENT_PROVIDER_URL = env.str("PAYMENT_PROVIDER_URL", default="http://127.0.0.1:8090")
PAYMENT_PROVIDER_API_KEY = env.str("PAYMENT_PROVIDER_API_KEY", default="sk_test_bazaar")
PAYMENT_WEBHOOK_SECRET = env.str("PAYMENT_WEBHOOK_SECRET", default="whsec_bazaar_dev")
PAYMENT_PROVIDER_TIMEOUT = env.float("PAYMENT_PROVIDER_TIMEOUT", default=10.0)
PAYMENT_CAPTURE_MAX_RETRIES = env.int("PAYMENT_CAPTURE_MAX_RETRIES", default=8)
PAYMENT_CAPTURE_BACKOFF_MAX = env.float("PAYMENT_CAPTURE_BACKOFF_MAX", default=60.0)

# --- Email --------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@bazaar.local")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Static and media ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(APP_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(APP_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Observability ------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Keep the id the ingress (or a calling service) put in X-Request-ID, so logs join across hops.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env.bool("TRUST_UPSTREAM_REQUEST_ID", default=True)
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
# Exported per scrape by `bazaar exporter` instead: at app start it would query the database
# in every process and crash-loop pods while the database is down.
PROMETHEUS_EXPORT_MIGRATIONS = False
# 0.3 s is the latency SLO's threshold, so it must be a bucket boundary.
PROMETHEUS_LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
    float("inf"),
)
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)

LOGGING = configure_logging(log_format=LOG_FORMAT, level=LOG_LEVEL)
