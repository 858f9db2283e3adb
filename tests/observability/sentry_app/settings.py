"""The test settings plus the failing view (in this app's URLconf) and task (autodiscovered)."""

from config.settings.test import *  # noqa: F403
from config.settings.test import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.observability.sentry_app"]
ROOT_URLCONF = "tests.observability.sentry_app.urls"
