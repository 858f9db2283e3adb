"""Database aliases built from the environment, for the settings (which must not touch
``django.db``: it reads the settings being built)."""

import warnings
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

POSTGRES_ENGINE = "bazaar.common.db.postgresql"
REPLICA_ENGINE = "bazaar.common.db.postgresql_replica"
URL_SHAPE = "postgres://USER:PASSWORD@HOST:PORT/NAME"


def replica_database(url: str, *, primary: dict, connect_timeout: int) -> dict:
    """The ``replica`` alias for ``DATABASE_REPLICA_URL``: the primary's settings (pooler-safe
    options, connection lifetime) with the replica's address and credentials.

    Raises ``ImproperlyConfigured``, naming the variable and never the password, for a URL that
    is not a Postgres URL with a host and a database, or when the primary is not Postgres.
    """
    if primary["ENGINE"] != POSTGRES_ENGINE:
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL is set but DATABASE_URL is not Postgres: a read replica "
            "streams from a Postgres primary. Unset DATABASE_REPLICA_URL or point DATABASE_URL "
            "at the primary."
        )
    try:
        with warnings.catch_warnings():  # "Engine not recognized": refused below, clearly
            warnings.simplefilter("ignore")
            parsed = environ.Env.db_url_config(url)
    except ValueError as error:  # a port that is not a number
        raise _bad_url(url, str(error)) from None
    if parsed.get("ENGINE") != "django.db.backends.postgresql":
        raise _bad_url(url, "the scheme is not postgres://")
    missing = [part for part in ("HOST", "NAME") if not parsed.get(part)]
    if missing:
        raise _bad_url(url, f"no {' and no '.join(part.lower() for part in missing)}")
    return {
        **primary,
        **{key: parsed[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
        "ENGINE": REPLICA_ENGINE,
        "OPTIONS": {
            **primary.get("OPTIONS", {}),
            "connect_timeout": connect_timeout,
            **parsed.get("OPTIONS", {}),
        },
        # Django's test runner gives the alias the primary's connection instead of a database.
        "TEST": {"MIRROR": "default"},
    }


def _bad_url(url: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"DATABASE_REPLICA_URL {_without_credentials(url)!r} is not usable ({problem}): "
        f"expected {URL_SHAPE}, or unset it to read everything from the primary."
    )


def _without_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable>"
    if not parts.scheme:
        return "<not a URL>"
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
