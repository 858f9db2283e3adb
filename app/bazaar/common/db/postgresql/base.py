"""Postgres: django-prometheus' backend (query metrics) with a connection check that makes no
round trip.

With ``CONN_HEALTH_CHECKS``, Django checks a persistent connection before the first query of
each request by sending ``SELECT 1``. Behind PgBouncer that doubles the queries of a request
that makes one: a round trip through PgBouncer and a server connection lent for it.

A connection that PgBouncer or Postgres has closed (a restart, an idle timeout,
``pg_terminate_backend``) has something waiting on its socket: the closing error message or
the end of the stream. An idle live connection has nothing to read. So the check looks at the
socket and makes Django's round trip only when something is waiting there, like the
connection check of go-sql-driver/mysql. Like ``SELECT 1``, it cannot tell a peer that
vanished without closing (a dead node) until TCP gives up.
"""

import select

from django_prometheus.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:  # psycopg: broken implies closed
            return False
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN)
        if poller.poll(0):  # data, end of stream or an error: let a query find out which
            return super().is_usable()
        return True
