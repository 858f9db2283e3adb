"""The HTTP payment gateway against the live simulator: nothing is mocked at the HTTP boundary."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from bazaar.payments.gateways import (
    Charge,
    ChargeStatus,
    HttpPaymentGateway,
    InvalidWebhookSignature,
    PaymentError,
    PaymentGateway,
    TransientPaymentError,
    WebhookEvent,
    signatures,
)
from bazaar.payments.simulator.app import SimulatorSettings
from bazaar.payments.simulator.testing import bind_free_port, running_simulator

API_KEY = "sk_test_gateway"
WEBHOOK_SECRET = "whsec_gateway_tests"
AMOUNT = Decimal("12.50")


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    settings = SimulatorSettings(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET)
    with running_simulator(settings) as url:
        yield url


@pytest.fixture
def simulator(simulator_url: str) -> Iterator[httpx.Client]:
    """Control client for the simulator's `/_sim/` endpoints, reset before every test."""
    with httpx.Client(base_url=simulator_url) as control:
        control.post("/_sim/reset").raise_for_status()
        yield control


@pytest.fixture
def gateway(simulator: httpx.Client, simulator_url: str) -> Iterator[HttpPaymentGateway]:
    with HttpPaymentGateway(simulator_url, API_KEY, WEBHOOK_SECRET, timeout=(1.0, 5.0)) as gateway:
        yield gateway


def capture(gateway: PaymentGateway, key: str, reference: str = "order-1") -> Charge:
    return gateway.capture(reference=reference, amount=AMOUNT, currency="EUR", idempotency_key=key)


def configure(simulator: httpx.Client, **changes: object) -> None:
    simulator.post("/_sim/config", json=changes).raise_for_status()


def recorded_charges(simulator: httpx.Client) -> list[dict]:
    return simulator.get("/_sim/charges").json()["charges"]


def test_http_gateway_implements_the_gateway_interface(gateway):
    assert isinstance(gateway, PaymentGateway)


def test_capture_returns_the_succeeded_charge_the_provider_recorded(gateway, simulator):
    charge = capture(gateway, "capture-ok")
    assert charge.succeeded
    assert charge.status is ChargeStatus.SUCCEEDED
    assert (charge.amount, charge.currency, charge.reference) == (AMOUNT, "EUR", "order-1")
    assert charge.failure_code is None
    [recorded] = recorded_charges(simulator)
    assert recorded["id"] == charge.id
    assert recorded["amount"] == "12.50"


def test_capture_sends_decimal_amounts_without_float_rounding(gateway, simulator):
    amount = Decimal("1234567890123.45")
    charge = gateway.capture(
        reference="big", amount=amount, currency="EUR", idempotency_key="big-amount"
    )
    assert charge.amount == amount
    assert recorded_charges(simulator)[0]["amount"] == "1234567890123.45"


def test_declined_card_is_a_failed_charge_not_an_exception(gateway, simulator):
    configure(simulator, decline_rate=1)
    charge = capture(gateway, "capture-declined")
    assert not charge.succeeded
    assert charge.status is ChargeStatus.FAILED
    assert charge.failure_code == "card_declined"
    assert [recorded["id"] for recorded in recorded_charges(simulator)] == [charge.id]


def test_provider_503_is_transient_and_the_retry_succeeds(gateway, simulator):
    configure(simulator, failure_rate=1)
    with pytest.raises(TransientPaymentError) as raised:
        capture(gateway, "capture-flaky")
    assert raised.value.status_code == 503
    assert raised.value.retry_after == 1.0
    assert recorded_charges(simulator) == []

    configure(simulator, failure_rate=0)
    assert capture(gateway, "capture-flaky").succeeded


def test_timeout_is_transient_and_the_retry_returns_the_charge_made_meanwhile(
    gateway, simulator, simulator_url
):
    configure(simulator, latency_ms="400-500")
    impatient = HttpPaymentGateway(simulator_url, API_KEY, WEBHOOK_SECRET, timeout=(1.0, 0.1))
    with impatient, pytest.raises(TransientPaymentError):
        capture(impatient, "capture-timeout")

    configure(simulator, latency_ms=0)
    retried = capture(gateway, "capture-timeout")
    assert [recorded["id"] for recorded in recorded_charges(simulator)] == [retried.id]


def test_unreachable_provider_is_transient():
    with bind_free_port(listen=False) as refusing:
        port = refusing.getsockname()[1]
        gateway = HttpPaymentGateway(f"http://127.0.0.1:{port}", API_KEY, WEBHOOK_SECRET)
        with gateway, pytest.raises(TransientPaymentError) as raised:
            capture(gateway, "capture-unreachable")
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_idempotent_replay_returns_the_same_charge(gateway, simulator):
    first = capture(gateway, "capture-twice")
    assert capture(gateway, "capture-twice") == first
    assert len(recorded_charges(simulator)) == 1


def test_concurrent_captures_through_one_gateway_make_one_charge(gateway, simulator):
    configure(simulator, latency_ms="30")
    with ThreadPoolExecutor(max_workers=10) as pool:
        charges = list(pool.map(lambda _: capture(gateway, "capture-concurrent"), range(10)))
    assert len(set(charges)) == 1
    assert len(recorded_charges(simulator)) == 1


def test_reusing_a_key_for_another_order_is_a_permanent_error(gateway):
    capture(gateway, "capture-reused", reference="order-1")
    with pytest.raises(PaymentError) as raised:
        capture(gateway, "capture-reused", reference="order-2")
    assert not isinstance(raised.value, TransientPaymentError)
    assert (raised.value.status_code, raised.value.code) == (422, "idempotency_key_reused")


def test_wrong_api_key_is_a_permanent_error(simulator_url):
    gateway = HttpPaymentGateway(simulator_url, "sk_wrong", WEBHOOK_SECRET)
    with gateway, pytest.raises(PaymentError) as raised:
        capture(gateway, "capture-unauthorized")
    assert not isinstance(raised.value, TransientPaymentError)
    assert raised.value.status_code == 401


def signed_event(simulator: httpx.Client, charge: Charge) -> tuple[bytes, str]:
    """A charge event as the simulator sends it, built from the charge it actually stored."""
    stored = simulator.get(
        f"/v1/charges/{charge.id}", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()
    event = {"id": "evt_1", "type": f"charge.{stored['status']}", "data": {"object": stored}}
    payload = json.dumps(event).encode()
    return payload, signatures.sign(payload, WEBHOOK_SECRET, int(time.time()))


def test_parse_webhook_returns_the_event_and_its_charge(gateway, simulator):
    charge = capture(gateway, "webhook-ok")
    payload, header = signed_event(simulator, charge)
    event = gateway.parse_webhook(payload=payload, signature_header=header)
    assert event == WebhookEvent(id="evt_1", type="charge.succeeded", charge=charge)


def test_parse_webhook_rejects_a_tampered_payload(gateway, simulator):
    configure(simulator, decline_rate=1)
    payload, header = signed_event(simulator, capture(gateway, "webhook-tampered"))
    tampered = payload.replace(b'"failed"', b'"succeeded"')
    with pytest.raises(InvalidWebhookSignature):
        gateway.parse_webhook(payload=tampered, signature_header=header)


def test_parse_webhook_rejects_a_signed_but_malformed_event(gateway):
    payload = b'{"id": "evt_1", "type": "charge.succeeded", "data": {}}'
    header = signatures.sign(payload, WEBHOOK_SECRET, int(time.time()))
    with pytest.raises(PaymentError) as raised:
        gateway.parse_webhook(payload=payload, signature_header=header)
    assert not isinstance(raised.value, InvalidWebhookSignature)
