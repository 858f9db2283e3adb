"""Request bodies parsed strictly: JSON that Python's ``json`` accepts but the shop cannot store,
compare or answer is refused at the door as a 400, not deep inside a view as a 500.

``json.loads`` alone lets through, or raises something other than ``ValueError`` for:

- nesting deep enough to exhaust the C stack guard (``RecursionError``);
- numbers Python cannot represent (``1e400`` becomes ``inf``; an integer of more than 4,300
  digits raises a ``ValueError`` that names an interpreter setting);
- duplicate keys (the last silently wins: two readers of one body can disagree on it);
- ``\\u0000``, which no Postgres text or jsonb value can hold, and lone surrogates
  (``\\ud800``), which no UTF-8 encoder accepts: both turn into database or rendering errors
  wherever a value reaches a query, a hash or a response before a serializer field checks it.

:func:`loads` refuses all of them with :class:`InvalidJSON` (a ``ValueError``);
:class:`StrictJSONParser` is DRF's JSON parser on top of it; the payment webhook uses
:func:`loads` on its raw body too.
"""

from __future__ import annotations

import codecs
import json
import math
import sys
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted: the API's bodies are at most three deep."""

MAX_INTEGER_DIGITS = sys.get_int_max_str_digits()
"""Python's own limit (4,300): a longer integer is refused with a message of ours. Shorter ones
are left to the fields, whose bounds keep them within their columns."""


class InvalidJSON(ValueError):
    """A body that is not JSON the API can accept; the message says why, for the client."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InvalidJSON(f"An integer has more than {MAX_INTEGER_DIGITS} digits.")
    return int(text)


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InvalidJSON(f"The number {text[:40]} is out of range.")
    return number


def _refuse_constant(text: str) -> None:
    raise InvalidJSON(f"{text} is not a JSON number.")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidJSON(f"The key {key[:40]!r} appears more than once in an object.")
        seen.add(key)
    return dict(pairs)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise InvalidJSON("Text must not contain NUL (\\u0000) characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJSON("Text must not contain unpaired surrogates (\\ud800-\\udfff).") from None


def _check_values(data: Any) -> None:
    """Walk the parsed value without recursion: refuse too deep a nesting and bad text."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidJSON(f"The body is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                pending.append((item, depth + 1))
        else:
            pending.extend((item, depth + 1) for item in value)


def loads(text: str | bytes) -> Any:
    """Parse a JSON document strictly, or raise :class:`InvalidJSON` saying why."""
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJSON(f"The body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except InvalidJSON:
        raise
    except RecursionError:
        raise InvalidJSON(f"The body is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # JSONDecodeError, and int()'s own digit limit
        raise InvalidJSON(f"The body is not valid JSON: {exc}") from None
    _check_values(data)
    return data


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with :func:`loads`: every failure is a ``ParseError`` (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (LookupError, UnicodeError) as exc:
            raise ParseError(f"The body is not valid {encoding}: {exc}") from None
        try:
            return loads(text)
        except InvalidJSON as exc:
            raise ParseError(str(exc)) from None
