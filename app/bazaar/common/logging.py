"""Structured logs: one JSON object per line (or coloured console lines in development).

django-structlog binds ``request_id``, ``user_id`` and the request fields and carries the
request id into the tasks a request enqueues. Secrets never reach a log line: values under
sensitive keys, Authorization headers and card-like numbers are redacted by a processor that runs
for every line, ours and third-party alike.
"""

import logging
import re
from typing import Any

import structlog

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|access|refresh|authorization|cookie|api[_-]?key|card|cvc|cvv|pan",
    re.IGNORECASE,
)
CARD_LIKE = re.compile(r"\b(?:\d[ -]?){13,19}\b")
BEARER = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return BEARER.sub(r"\1 " + REDACTED, CARD_LIKE.sub(REDACTED, value))
    if isinstance(value, dict):
        return _redact_mapping(value)
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item) for item in value)
    return value


def _redact_mapping(mapping: dict) -> dict:
    return {
        key: REDACTED if isinstance(key, str) and SENSITIVE_KEY.search(key) else _redact_value(val)
        for key, val in mapping.items()
    }


def redact_secrets(logger: Any, method_name: str, event_dict: dict) -> dict:
    """structlog processor: scrub secrets from every field of the event."""
    return _redact_mapping(event_dict)


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
    structlog.processors.UnicodeDecoder(),
]


def configure_logging(*, log_format: str, level: str) -> dict:
    """Configure structlog and return Django's ``LOGGING`` dict for the stdlib side."""
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            # First: an event below its logger's level is dropped before any work is done on
            # it (django-structlog's own started/finished pair, silenced below, on every request).
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    redact_secrets,
                    renderer,
                ],
                "foreign_pre_chain": SHARED_PROCESSORS,
            },
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "structured"},
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            "django.server": {"level": "WARNING"},
            "django.db.backends": {"level": "WARNING"},
            "celery": {"level": level.upper()},
            # Our access line (bazaar.http) replaces django-structlog's started/finished pair;
            # its middleware still binds request_id and user_id for every other line.
            "django_structlog.middlewares": {"level": "ERROR"},
            "django.request": {"level": "ERROR"},
        },
    }


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


logging.captureWarnings(True)
