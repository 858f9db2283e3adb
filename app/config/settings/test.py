"""Tests: the real services the fixtures started are passed in through the environment."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env.str("SECRET_KEY", default="test-key-not-secret-but-long-enough-for-jwt-signing")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    scope: env.str(f"THROTTLE_{scope.upper()}", default="10000/min")
    for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]  # noqa: F405
}
WHITENOISE_AUTOREFRESH = True
