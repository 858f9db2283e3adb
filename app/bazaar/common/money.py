"""Money: Decimal amounts with an ISO 4217 currency, never floats."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models

AMOUNT_MAX_DIGITS = 12
AMOUNT_DECIMAL_PLACES = 2
CENT = Decimal("0.01")


class Currency(models.TextChoices):
    EUR = "EUR", "Euro"
    USD = "USD", "US dollar"
    GBP = "GBP", "Pound sterling"


def quantize(amount: Decimal | int | str) -> Decimal:
    """Round to cents, half up, as a till would."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def amount_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs
    )


def currency_field(**kwargs) -> models.CharField:
    return models.CharField(max_length=3, choices=Currency.choices, **kwargs)
