"""A test-only Django app with a view and a task that fail on purpose, for the Sentry test.

Never part of the production URLconf: processes load it through ``DJANGO_SETTINGS_MODULE=
tests.observability.sentry_app.settings``.
"""
