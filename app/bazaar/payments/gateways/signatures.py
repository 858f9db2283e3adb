"""Webhook signatures in Stripe's scheme: the simulator signs, the HTTP adapter verifies.

Header: `Bazaar-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. Signing the
timestamp together with the body lets the receiver refuse replays of old, captured requests.
More than one `v1` entry may be present while a secret is being rotated; any match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from bazaar.payments.gateways.base import InvalidWebhookSignature

SIGNATURE_HEADER = "Bazaar-Signature"
SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def _digest(payload: bytes, secret: str, timestamp: int) -> str:
    signed_payload = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """Return the signature header value for `payload` sent at `timestamp`."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={_digest(payload, secret, timestamp)}"


def verify(
    payload: bytes,
    header: str,
    secret: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Return the signed timestamp if `header` signs `payload`, else raise InvalidWebhookSignature.

    Timestamps further than `tolerance_seconds` from `now` in either direction are refused:
    an old one is a replay, and a far-future one would stay replayable for too long.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, separator, value = item.strip().partition("=")
        if not separator:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidWebhookSignature("signature timestamp is not an integer") from None
        elif key == SIGNATURE_SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidWebhookSignature("signature header lacks a timestamp or a v1 signature")

    current = time.time() if now is None else now
    # In integers: a timestamp of thousands of digits overflows a float subtraction.
    if abs(int(current) - timestamp) > tolerance_seconds:
        raise InvalidWebhookSignature("signature timestamp is outside the tolerance window")

    expected = _digest(payload, secret, timestamp)
    # Compared as bytes: compare_digest refuses non-ASCII str, and the header is untrusted input.
    expected_bytes = expected.encode()
    if not any(
        hmac.compare_digest(expected_bytes, candidate.encode(errors="replace"))
        for candidate in candidates
    ):
        raise InvalidWebhookSignature("no signature matches the payload")
    return timestamp
