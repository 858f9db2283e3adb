"""Payment gateways: the provider-agnostic interface and its HTTP adapter."""

from bazaar.payments.gateways.base import (
    Charge,
    ChargeStatus,
    InvalidWebhookSignature,
    PaymentError,
    PaymentGateway,
    TransientPaymentError,
    WebhookEvent,
)
from bazaar.payments.gateways.http import HttpPaymentGateway

__all__ = [
    "Charge",
    "ChargeStatus",
    "HttpPaymentGateway",
    "InvalidWebhookSignature",
    "PaymentError",
    "PaymentGateway",
    "TransientPaymentError",
    "WebhookEvent",
]
