"""Migrations that never race: one runner at a time under a Postgres advisory lock, on a direct
connection (a session-level lock cannot live behind PgBouncer's transaction pooling)."""

import time

import environ
import structlog
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

logger = structlog.get_logger(__name__)
# Any fixed 64-bit number; all migrate runs of this database agree on it.
MIGRATION_LOCK_ID = 727_274_611
POLL_SECONDS = 2.0


def use_direct_connection() -> None:
    """Point the default alias at ``DATABASE_DIRECT_URL`` (before any query is made)."""
    direct_url = settings.DATABASE_DIRECT_URL
    if not direct_url:
        return
    database = settings.DATABASES["default"]
    direct = environ.Env.db_url_config(direct_url)
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        database[key] = direct.get(key, "")
    database["DISABLE_SERVER_SIDE_CURSORS"] = False
    database.get("OPTIONS", {}).pop("prepare_threshold", None)
    connection.close()


def migrate_under_lock(*, lock_timeout: float) -> None:
    use_direct_connection()
    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False, verbosity=1)
        return
    deadline = time.monotonic() + lock_timeout
    _wait_for_database(deadline)
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_ID])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"another migrate held the lock for over {lock_timeout}s")
            logger.info("migrate_waiting_for_lock")
            time.sleep(POLL_SECONDS)
        try:
            logger.info("migrate_started")
            call_command("migrate", interactive=False, verbosity=1)
            logger.info("migrate_finished")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])


def _wait_for_database(deadline: float) -> None:
    """A database still starting (a StatefulSet created with the Job, a managed failover) is
    waited for within the migration's budget: a Job that fails instead is retried only a few
    times (``backoffLimit``) and then leaves the release without its schema."""
    while True:
        try:
            connection.ensure_connection()
            return
        except DatabaseError as exc:
            connection.close()
            if time.monotonic() > deadline:
                raise
            logger.info("migrate_waiting_for_database", error=str(exc))
            time.sleep(POLL_SECONDS)


def unapplied_migrations() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [(migration.app_label, migration.name) for migration, _backwards in plan]


def wait_for_schema(*, timeout: float) -> bool:
    """Block until the database has every migration of this code (init containers)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pending = unapplied_migrations()
        except DatabaseError as exc:
            connection.close()
            logger.info("schema_wait_database_unavailable", error=str(exc))
            pending = None
        if pending == []:
            return True
        if time.monotonic() > deadline:
            logger.error("schema_wait_timed_out", pending=len(pending or []))
            return False
        logger.info("schema_wait", pending=len(pending) if pending is not None else None)
        time.sleep(POLL_SECONDS)
