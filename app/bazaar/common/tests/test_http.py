"""Probes, the error envelope and the cross-cutting headers, through the full middleware stack."""

import json
import threading

import pytest
from django.test import Client

from bazaar.accounts.tests.test_api import assert_envelope
from bazaar.common import throttling
from bazaar.common.logging import REDACTED, redact_secrets
from tools.stack.processes import wait_until

pytestmark = pytest.mark.django_db


def test_healthz_does_no_io(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_cache_and_broker(client):
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}


def test_readyz_is_503_and_names_what_failed_when_redis_is_down(client, services):
    services.redis.stop()
    try:
        response = client.get("/readyz")
    finally:
        services.redis.start()
    error = assert_envelope(response, 503, "not_ready")
    checks = error["details"]["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["cache"]["status"] == "error"
    assert checks["broker"]["status"] == "error"
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_when_the_database_takes_the_query_and_never_answers(client, services):
    """A stalled database endpoint (PgBouncer frozen once connected: the query is taken and
    never answered, and no connect timeout applies): the probe answers "not ready" instead of
    hanging."""
    answers, paused = [], threading.Event()

    def probe() -> None:
        answers.append(Client().get("/readyz"))  # connects while everything answers
        paused.wait()
        answers.append(Client().get("/readyz"))

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    assert wait_until(lambda: answers, timeout=20), "the first probe did not answer"
    services.pgbouncer.pause()
    try:
        paused.set()
        prober.join(timeout=30)
    finally:
        services.pgbouncer.resume()
    assert answers[0].status_code == 200
    assert len(answers) == 2, "/readyz hung while the database did not answer"
    error = assert_envelope(answers[1], 503, "not_ready")
    assert error["details"]["checks"]["database"]["error"].startswith("TimeoutError")
    assert error["details"]["checks"]["cache"]["status"] == "ok"
    assert wait_until(lambda: client.get("/readyz").status_code == 200, timeout=20), (
        "/readyz did not come back once the database answered"
    )


def test_probes_answer_any_host(client):
    assert client.get("/healthz", HTTP_HOST="10.244.1.17:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.244.1.17:8000").status_code == 200
    assert_envelope(client.get("/api/v1/products/", HTTP_HOST="evil.example"), 400, "bad_request")


def test_errors_use_the_envelope(client, user_client):
    assert_envelope(client.get("/no/such/page/"), 404, "not_found")
    assert_envelope(user_client.put("/api/v1/cart/"), 405, "method_not_allowed")
    assert_envelope(client.get("/api/v1/payments/webhook/"), 405, "method_not_allowed")
    malformed = user_client.post(
        "/api/v1/cart/items/", data=b'{"product": ', content_type="application/json"
    )
    assert_envelope(malformed, 400, "parse_error")
    wrong_type = user_client.post("/api/v1/cart/items/", data="x", content_type="text/plain")
    assert_envelope(wrong_type, 415, "unsupported_media_type")
    huge = user_client.post(
        "/api/v1/cart/items/",
        data=json.dumps({"product": "x" * 2_000_000}),
        content_type="application/json",
    )
    assert_envelope(huge, 413, "request_too_large")
    nul = user_client.post(
        "/api/v1/auth/me/addresses/",
        {"full_name": "a\x00b", "line1": "x", "city": "y", "postal_code": "1", "country": "DE"},
        format="json",
    )
    assert_envelope(nul, 400, "parse_error")


@pytest.mark.urls("bazaar.common.tests.urls_failing")
def test_unhandled_errors_are_a_500_envelope():
    client = Client(raise_request_exception=False)
    assert_envelope(client.get("/broken/"), 500, "server_error")


def test_request_id_and_server_timing_headers(client):
    response = client.get("/api/v1/products/", HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"
    assert response["Server-Timing"].startswith("app;dur=")
    assert "db;dur=" in response["Server-Timing"]
    generated = client.get("/api/v1/products/")["X-Request-ID"]
    assert len(generated) >= 32


def test_scoped_throttle_is_shared_through_the_cache(api_client, monkeypatch):
    monkeypatch.setattr(throttling.ScopedThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    statuses = [
        api_client.post("/api/v1/auth/token/", {"email": "a@b.c", "password": "x"}).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    # A second client (think: another gunicorn worker) sees the same counter.
    assert_envelope(Client().post("/api/v1/auth/token/", {"email": "a@b.c"}), 429, "throttled")


def test_redaction_scrubs_secrets_tokens_and_card_numbers():
    event = {
        "event": "login",
        "password": "hunter2",
        "headers": {"Authorization": "Bearer abc.def.ghi", "Accept": "json"},
        "note": "card 4242 4242 4242 4242 and Bearer xyz",
        "access": "token",
    }
    redacted = redact_secrets(None, "info", event)
    assert redacted["password"] == REDACTED
    assert redacted["access"] == REDACTED
    assert redacted["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert "4242" not in redacted["note"]
    assert "xyz" not in redacted["note"]
