"""Where reads go with a read replica configured (``bazaar.common.db.replica``), and how a bad
``DATABASE_REPLICA_URL`` is refused. Proven end to end, on a real streaming standby, by
tests/reliability/test_read_replica.py; here each rule on its own."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, OperationalError, transaction
from prometheus_client import REGISTRY

from bazaar.catalog.models import Category, Product
from bazaar.common.db import replica
from bazaar.common.db.config import POSTGRES_ENGINE, REPLICA_ENGINE, replica_database
from bazaar.orders.models import Order

ROUTER = replica.PrimaryReplicaRouter()
PRIMARY = {
    "ENGINE": POSTGRES_ENGINE,
    "NAME": "bazaar",
    "USER": "bazaar",
    "PASSWORD": "primary-password",
    "HOST": "pgbouncer",
    "PORT": 6432,
    "CONN_MAX_AGE": 60,
    "DISABLE_SERVER_SIDE_CURSORS": True,
    "OPTIONS": {"connect_timeout": 5, "prepare_threshold": None},
}


@pytest.fixture
def replica_configured(settings):
    settings.DATABASE_REPLICA_URL = "postgres://bazaar:pw@pgbouncer-read:6432/bazaar"
    settings.DATABASE_REPLICA_RETRY_SECONDS = 30
    replica.breaker.open(0)
    yield
    replica.breaker._resting_until = 0.0


def read_db(model=Product, **hints) -> str:
    return ROUTER.db_for_read(model, **hints)


def tolerant_read_db() -> str:
    return read_db(**{replica.LAG_TOLERANT: True})


def in_replica_view(function):
    return replica.replica_reads(function)()


def test_lag_tolerant_querysets_carry_their_hint_through_every_clone():
    products = replica.lag_tolerant(Product.objects).filter(stock__gt=0).order_by("price")
    assert products._hints == {replica.LAG_TOLERANT: True}
    assert Product.objects.filter(stock__gt=0)._hints == {}


def test_a_lag_tolerant_read_uses_the_replica_only_inside_a_replica_view(replica_configured):
    assert tolerant_read_db() == DEFAULT_DB_ALIAS
    assert in_replica_view(tolerant_read_db) == replica.REPLICA


def test_reads_not_marked_lag_tolerant_stay_on_the_primary(replica_configured):
    assert in_replica_view(lambda: read_db(Order)) == DEFAULT_DB_ALIAS
    assert in_replica_view(lambda: read_db(Category)) == DEFAULT_DB_ALIAS


@pytest.mark.django_db
def test_nothing_inside_a_transaction_reads_the_replica(replica_configured):
    def inside_atomic():
        with transaction.atomic():
            return tolerant_read_db()

    assert in_replica_view(inside_atomic) == DEFAULT_DB_ALIAS


def test_rows_read_from_the_replica_lead_to_their_related_rows_there(replica_configured):
    product = Product()
    product._state.db = replica.REPLICA
    assert in_replica_view(lambda: read_db(Category, instance=product)) == replica.REPLICA
    assert read_db(Category, instance=product) == DEFAULT_DB_ALIAS


def test_writes_go_to_the_primary_and_migrations_never_run_on_the_replica():
    assert ROUTER.db_for_write(Product) == DEFAULT_DB_ALIAS
    assert ROUTER.db_for_write(Product, instance=Product()) == DEFAULT_DB_ALIAS
    assert ROUTER.allow_migrate(replica.REPLICA, "catalog") is False
    assert ROUTER.allow_migrate(DEFAULT_DB_ALIAS, "catalog") is None


def test_rows_of_either_alias_may_be_related():
    on_replica, on_primary = Product(), Category()
    on_replica._state.db, on_primary._state.db = replica.REPLICA, DEFAULT_DB_ALIAS
    assert ROUTER.allow_relation(on_replica, on_primary) is True


def fallbacks(reason: str) -> float:
    value = REGISTRY.get_sample_value("bazaar_db_replica_fallbacks_total", {"reason": reason})
    return value or 0.0


def test_a_read_the_replica_fails_runs_again_on_the_primary_and_the_replica_rests(
    replica_configured,
):
    attempts = []

    def view_method():
        attempts.append(tolerant_read_db())
        if len(attempts) == 1:
            raise replica.ReplicaReadFailed("server closed the connection") from OSError()
        return "served"

    before = fallbacks("OSError")
    assert replica.replica_reads(view_method)() == "served"
    assert attempts == [replica.REPLICA, DEFAULT_DB_ALIAS]
    assert fallbacks("OSError") == before + 1
    # The breaker is open: the next request does not try the replica at all.
    assert in_replica_view(tolerant_read_db) == DEFAULT_DB_ALIAS
    replica.breaker._resting_until = 0.0
    assert in_replica_view(tolerant_read_db) == replica.REPLICA


def test_other_database_errors_are_not_retried(replica_configured):
    calls = []

    def view_method():
        calls.append(1)
        raise OperationalError("the primary is down")

    with pytest.raises(OperationalError, match="primary"):
        replica.replica_reads(view_method)()
    assert calls == [1]


def test_without_a_replica_the_decorator_changes_nothing(settings):
    settings.DATABASE_REPLICA_URL = ""
    assert in_replica_view(tolerant_read_db) == DEFAULT_DB_ALIAS


# --- DATABASE_REPLICA_URL ------------------------------------------------------------------


def test_the_replica_alias_is_the_primary_with_the_replicas_address():
    alias = replica_database(
        "postgres://reader:replica-password@pgbouncer-read:6432/bazaar?sslmode=require",
        primary=PRIMARY,
        connect_timeout=2,
    )
    assert alias["ENGINE"] == REPLICA_ENGINE
    assert (alias["HOST"], alias["PORT"], alias["NAME"]) == ("pgbouncer-read", 6432, "bazaar")
    assert (alias["USER"], alias["PASSWORD"]) == ("reader", "replica-password")
    assert alias["OPTIONS"] == {
        "connect_timeout": 2,
        "prepare_threshold": None,
        "sslmode": "require",
    }
    assert alias["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert alias["CONN_MAX_AGE"] == 60
    assert alias["TEST"] == {"MIRROR": "default"}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "the scheme is not postgres://"),
        ("mysql://reader:s3cret-pw@replica/bazaar", "the scheme is not postgres://"),
        ("postgres://reader:s3cret-pw@replica:port/bazaar", "Port could not be cast"),
        ("postgres://reader:s3cret-pw@:5432/bazaar", "no host"),
        ("postgres://reader:s3cret-pw@replica:5432/", "no name"),
        ("postgres://", "no host and no name"),
    ],
)
def test_a_malformed_replica_url_is_refused_without_showing_its_password(url, problem):
    with pytest.raises(ImproperlyConfigured) as refused:
        replica_database(url, primary=PRIMARY, connect_timeout=2)
    message = str(refused.value)
    assert message.startswith("DATABASE_REPLICA_URL ")
    assert problem in message
    assert "postgres://USER:PASSWORD@HOST:PORT/NAME" in message
    assert "s3cret-pw" not in message


def test_a_replica_needs_a_postgres_primary():
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL is not Postgres"):
        replica_database("postgres://r:pw@replica/bazaar", primary=sqlite, connect_timeout=2)
