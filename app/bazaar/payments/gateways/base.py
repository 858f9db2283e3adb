"""The provider-agnostic payment interface the shop talks to.

Services and tasks depend on `PaymentGateway`, never on a concrete provider, so a provider
can be swapped (or faked in a unit test) without touching the checkout flow.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable


class ChargeStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Charge:
    """A charge as the provider recorded it; a declined card is a charge with status failed."""

    id: str
    status: ChargeStatus
    amount: Decimal
    currency: str
    reference: str
    failure_code: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is ChargeStatus.SUCCEEDED


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified provider notification, e.g. "charge.succeeded" with the charge it is about."""

    id: str
    type: str
    charge: Charge


class PaymentError(Exception):
    """The provider refused the request or broke the protocol; retrying will not help."""

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.code = code
        self.status_code = status_code


class TransientPaymentError(PaymentError):
    """Timeout, connection error, 5xx or 429: the outcome is unknown or temporary.

    Retrying with the same idempotency key is safe: the provider either replays the charge it
    already made or makes it now. `retry_after` carries the provider's hint in seconds, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, code=code, status_code=status_code)
        self.retry_after = retry_after


class InvalidWebhookSignature(PaymentError):
    """The webhook was not signed with our secret, was altered, or is too old to trust."""


@runtime_checkable
class PaymentGateway(Protocol):
    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> Charge:
        """Charge `amount` for `reference`; returns the charge, succeeded or failed (declined).

        Raises TransientPaymentError when the caller should retry with the same key, and
        PaymentError when the request itself is wrong.
        """
        ...

    def parse_webhook(self, *, payload: bytes, signature_header: str) -> WebhookEvent:
        """Verify the signature of a raw webhook body and return the event it carries.

        Raises InvalidWebhookSignature when the signature does not check out.
        """
        ...
