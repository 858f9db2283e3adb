"""The Postgres backend's connection check: no round trip for a live connection, and a
connection the server closed is found and replaced, on a real Postgres."""

import environ
import pytest
from django.conf import settings
from django.db import connection, connections

from tools.stack.processes import wait_until

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.DATABASE_DIRECT_URL,
        reason="needs Postgres and its direct URL",
    ),
]


def direct_connection():
    """A new connection of the app's backend, straight to Postgres, outside the test's
    transaction, so the server's own view of it (``pg_stat_activity``) can be asked. It keeps
    the ``default`` alias: django.contrib.postgres looks its type OIDs up by alias."""
    default = connections["default"]
    direct = environ.Env.db_url_config(settings.DATABASE_DIRECT_URL)
    settings_dict = {
        **default.settings_dict,
        **{key: direct[key] for key in ("USER", "PASSWORD", "HOST", "PORT")},
        "OPTIONS": {},
        "DISABLE_SERVER_SIDE_CURSORS": False,
    }
    return type(default)(settings_dict)


@pytest.fixture
def checked():
    """The connection under test (the first query of a request makes the check)."""
    wrapper = direct_connection()
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


@pytest.fixture
def observer():
    wrapper = direct_connection()
    yield wrapper
    wrapper.close()


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def last_query(observer, pid: int) -> str:
    with observer.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_a_live_connection_passes_the_check_without_a_query(checked, observer):
    pid = backend_pid(checked)

    assert checked.health_check_enabled
    assert checked.is_usable()

    # Django's own check would have sent SELECT 1 and the server would show it last.
    assert last_query(observer, pid) == "SELECT pg_backend_pid()"


def test_a_connection_the_server_closed_fails_the_check_and_the_next_query_reconnects(
    checked, observer
):
    pid = backend_pid(checked)
    with observer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    # The server's closing message reaches the socket a moment after it returns.
    assert wait_until(lambda: not checked.is_usable(), 5, 0.01)

    checked.health_check_done = False  # a new request
    checked.close_if_health_check_failed()
    assert checked.connection is None
    assert backend_pid(checked) != pid


def test_a_closed_or_missing_connection_fails_the_check(checked):
    checked.connection.close()
    assert not checked.is_usable()
    checked.close()
    assert not checked.is_usable()
