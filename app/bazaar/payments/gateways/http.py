"""The HTTP adapter: `PaymentGateway` over a Stripe-like REST API (the bundled simulator speaks it).

One `httpx.Client` per gateway keeps connections alive between captures, so build the gateway
once per process and reuse it. Amounts travel as decimal strings, never floats.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from bazaar.payments.gateways import signatures
from bazaar.payments.gateways.base import (
    Charge,
    ChargeStatus,
    PaymentError,
    TransientPaymentError,
    WebhookEvent,
)

DEFAULT_TIMEOUT = (3.05, 10.0)
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
WEBHOOK_TEXT_MAX_LENGTH = 100  # the event id and type columns


class HttpPaymentGateway:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        webhook_secret: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        *,
        webhook_tolerance_seconds: int = signatures.DEFAULT_TOLERANCE_SECONDS,
        max_connections: int = 20,
    ):
        connect_timeout, read_timeout = timeout
        self._webhook_secret = webhook_secret
        self._webhook_tolerance_seconds = webhook_tolerance_seconds
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpPaymentGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> Charge:
        body = {"amount": str(amount), "currency": currency, "reference": reference}
        try:
            response = self._client.post(
                "/v1/charges", json=body, headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.TimeoutException as exc:
            raise TransientPaymentError(f"payment provider timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise TransientPaymentError(f"payment provider unreachable: {exc!r}") from exc

        if response.status_code in (200, 201):
            return _charge_from_wire(_json_object(response))
        if response.status_code == 402:
            declined = _error_of(response).get("details", {}).get("charge")
            if not isinstance(declined, dict):
                raise PaymentError("decline response carries no charge", status_code=402)
            return _charge_from_wire(declined)
        raise _error_for(response)

    def parse_webhook(self, *, payload: bytes, signature_header: str) -> WebhookEvent:
        signatures.verify(
            payload,
            signature_header,
            self._webhook_secret,
            tolerance_seconds=self._webhook_tolerance_seconds,
        )
        # Imported here: the simulator shares this package and runs without Django settings,
        # which the strict parser's module (DRF) reads at import.
        from bazaar.common import parsers

        try:
            event = parsers.loads(payload)
            charge = _charge_from_wire(event["data"]["object"])
            event_id, event_type = event["id"], event["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PaymentError(f"malformed webhook event: {exc}") from exc
        if not (_is_short_text(event_id) and _is_short_text(event_type)):
            raise PaymentError("malformed webhook event: its id and type must be short text")
        return WebhookEvent(id=event_id, type=event_type, charge=charge)


def _is_short_text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= WEBHOOK_TEXT_MAX_LENGTH


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise PaymentError(
            "payment provider answered with a non-JSON body", status_code=response.status_code
        )
    return payload


def _error_of(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _error_for(response: httpx.Response) -> PaymentError:
    error = _error_of(response)
    code = error.get("code")
    message = f"payment provider answered {response.status_code}: {error.get('message', '')}"
    if response.status_code >= 500 or response.status_code in _TRANSIENT_STATUSES:
        return TransientPaymentError(
            message,
            code=code,
            status_code=response.status_code,
            retry_after=_retry_after_seconds(response),
        )
    return PaymentError(message, code=code, status_code=response.status_code)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    # Only the delta-seconds form; providers do not send HTTP dates for API rate limits.
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _decimal_from_wire(amount: object) -> Decimal:
    if not isinstance(amount, str):
        raise TypeError(f"amount must be a decimal string, got {type(amount).__name__}")
    return Decimal(amount)


def _charge_from_wire(charge: dict[str, Any]) -> Charge:
    try:
        return Charge(
            id=charge["id"],
            status=ChargeStatus(charge["status"]),
            amount=_decimal_from_wire(charge["amount"]),
            currency=charge["currency"],
            reference=charge["reference"],
            failure_code=charge.get("failure_code"),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise PaymentError(f"malformed charge from payment provider: {exc!r}") from exc
