"""Reads that tolerate replication lag go to the read replica, when there is one.

``DATABASE_REPLICA_URL`` adds the ``replica`` alias and ``PrimaryReplicaRouter`` (settings). A
read goes to the replica only when all of these hold, and to the primary otherwise:

* its selector marked the queryset with ``lag_tolerant(Model.objects)``: the catalog and its
  reviews may be a moment old, a user's own cart and orders never are;
* it runs inside a view method wrapped in ``@replica_reads`` (the public catalog GETs), so the
  same selector used on a write path (a review's product) reads the primary;
* no transaction is open on the primary: everything in ``transaction.atomic`` is the primary's;
* the replica is not resting after a failure (see below).

Writes always go to the primary, and migrations never run on the replica.

When the replica fails a read (it is down, its PgBouncer gave up waiting for it, a query was
cancelled by a recovery conflict), the view method runs again on the primary, so no request
fails for it. The replica then rests for ``DATABASE_REPLICA_RETRY_SECONDS`` in this process, a
circuit breaker: a dead replica costs one failed attempt per process and period, not a timeout
per request. Each fall-back is logged (``replica_read_failed``) and counted
(``bazaar_db_replica_fallbacks_total``; 15 minutes of them raise ``ReadReplicaFallingBack``).

Lag and the catalog cache: a write invalidates the cached pages after its commit, and a page
read from a replica that has not replayed the write yet is cached as it read it, until the next
write to it or ``CATALOG_CACHE_TIMEOUT``. Checkout never trusts those pages: it locks and
prices the products on the primary.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

import structlog
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.models import Manager, Model
from prometheus_client import Counter

REPLICA = "replica"
LAG_TOLERANT = "lag_tolerant"

logger = structlog.get_logger(__name__)

REPLICA_FALLBACKS = Counter(
    "bazaar_db_replica_fallbacks",
    "Reads the read replica failed that ran again on the primary.",
    ["reason"],
)

ManagerT = TypeVar("ManagerT", bound=Manager)
ViewMethod = TypeVar("ViewMethod", bound=Callable)


class ReplicaReadFailed(OperationalError):
    """The replica (or the way to it) failed a read; the primary can serve it instead."""


def lag_tolerant(manager: ManagerT) -> ManagerT:
    """``manager``, whose querysets may read the replica: for selectors whose callers accept
    data a moment old. The router decides when the queryset runs, not when it is built."""
    return manager.db_manager(hints={LAG_TOLERANT: True})


_replica_reads_allowed: ContextVar[bool] = ContextVar("replica_reads_allowed", default=False)


class _Breaker:
    """Per process: after a failure the replica is left alone for a while."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resting_until = 0.0

    def closed(self) -> bool:
        return time.monotonic() >= self._resting_until

    def open(self, seconds: float) -> None:
        with self._lock:
            self._resting_until = max(self._resting_until, time.monotonic() + seconds)


breaker = _Breaker()


def replica_configured() -> bool:
    """The settings define the ``replica`` alias exactly when this is set."""
    return bool(settings.DATABASE_REPLICA_URL)


def replica_reads(view_method: ViewMethod) -> ViewMethod:
    """Run a read-only view method with its lag-tolerant reads on the replica; if the replica
    fails one, rest it and run the method again on the primary."""

    @functools.wraps(view_method)
    def read(*args, **kwargs):
        if not replica_configured():
            return view_method(*args, **kwargs)
        allowed = _replica_reads_allowed.set(True)
        try:
            return view_method(*args, **kwargs)
        except ReplicaReadFailed as failure:
            _rest_replica(failure)
        finally:
            _replica_reads_allowed.reset(allowed)
        return view_method(*args, **kwargs)

    return read  # type: ignore[return-value]


def _rest_replica(failure: ReplicaReadFailed) -> None:
    retry_seconds = settings.DATABASE_REPLICA_RETRY_SECONDS
    breaker.open(retry_seconds)
    reason = type(failure.__cause__).__name__ if failure.__cause__ else "error"
    REPLICA_FALLBACKS.labels(reason=reason).inc()
    logger.warning(
        "replica_read_failed",
        reason=reason,
        error=str(failure)[:300],
        fallback="primary",
        retry_in_seconds=retry_seconds,
    )


def _replica_usable() -> bool:
    return (
        _replica_reads_allowed.get()
        and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        and breaker.closed()
    )


class PrimaryReplicaRouter:
    """Reads marked lag-tolerant (and rows related to what they read) may use the replica;
    everything else, every write and every migration, is the primary's."""

    def db_for_read(self, model: type[Model], **hints) -> str:
        instance = hints.get("instance")
        from_replica = instance is not None and instance._state.db == REPLICA
        if (hints.get(LAG_TOLERANT) or from_replica) and _replica_usable():
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints) -> bool | None:
        """Both aliases hold the same rows."""
        return {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA} or None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None
