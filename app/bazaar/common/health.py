"""Probes. ``/healthz`` is liveness: the process answers, no I/O at all. ``/readyz`` is
readiness: the database, the cache and the broker each answer within a short timeout; a 503
lists the checks that failed so an operator sees why the pod left the load balancer."""

import time
from concurrent.futures import ThreadPoolExecutor

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse

from .errors import envelope

CHECK_TIMEOUT_SECONDS = 1.0


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    results = {name: _run(check) for name, check in CHECKS.items()}
    failing = {name: result for name, result in results.items() if result["status"] != "ok"}
    if failing:
        return JsonResponse(
            envelope(
                code="not_ready",
                message="Some dependencies are not ready: " + ", ".join(sorted(failing)),
                details={"checks": results},
            ),
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results})


def _run(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


# The database check runs on a thread of its own, one per process: a database that takes the
# query and never answers, like PgBouncer queueing it while Postgres cannot be reached, fails
# the check after the timeout instead of holding the probe. A check still waiting for the thread
# when its probe gives up is cancelled, so checks do not pile up behind a stuck one.
_database_checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz-database")


def check_database() -> None:
    future = _database_checker.submit(_select_one)
    try:
        future.result(timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        future.cancel()
        raise TimeoutError(f"no answer within {CHECK_TIMEOUT_SECONDS:g} s") from None


def _select_one() -> None:
    connection = connections["default"]
    # No request cycle on this thread: honour CONN_MAX_AGE and drop a connection gone bad here.
    connection.close_if_unusable_or_obsolete()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        # A broken persistent connection must not stay broken for the next check.
        connection.close()
        raise


def check_cache() -> None:
    if not getattr(settings, "REDIS_URL", ""):
        return
    from django_redis import get_redis_connection

    get_redis_connection("default").ping()


def check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if not url or settings.CELERY_TASK_ALWAYS_EAGER:
        return
    client = redis.Redis.from_url(
        url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}
