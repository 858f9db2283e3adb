"""A payment-provider simulator with a Stripe-like charges API.

It behaves like the real thing where the shop's correctness depends on it: bearer-key auth,
idempotency keys (replay, conflicting reuse, one charge under concurrent retries), latency,
transient 503s, card declines and signed webhooks delivered in the background with retries.
`/_sim/*` lets tests and `make stack` change those behaviours at runtime and inspect the state.

All state lives in memory and is only touched from the server's event loop (uvicorn runs one
loop per process), so plain dicts are safe; the per-key `asyncio.Lock` is what serialises
concurrent requests sharing an idempotency key.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bazaar.payments.gateways import signatures

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_REFERENCE_LENGTH = 255
MAX_REQUEST_BODY_BYTES = 64 * 1024
# Delays before each webhook retry; a real provider backs off for days, a dev loop cannot wait.
WEBHOOK_RETRY_DELAYS_SECONDS = (0.5, 2.0, 5.0)
WEBHOOK_TIMEOUT_SECONDS = 5.0
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
CHARGE_FIELDS = frozenset({"amount", "currency", "reference", "metadata"})


@dataclass(frozen=True, slots=True)
class LatencyRange:
    """Simulated processing time, drawn uniformly from [low_ms, high_ms]."""

    low_ms: float = 0.0
    high_ms: float = 0.0

    @classmethod
    def parse(cls, value: str | float | int) -> LatencyRange:
        """Accept `50`, `"50"` or `"20-200"` (milliseconds)."""
        low, _, high = str(value).strip().partition("-")
        try:
            latency = cls(float(low), float(high or low))
        except ValueError:
            raise ValueError(f"latency must be MS or MIN-MAX, got {value!r}") from None
        if not 0 <= latency.low_ms <= latency.high_ms:
            raise ValueError(f"latency must satisfy 0 <= MIN <= MAX, got {value!r}")
        return latency

    def draw_seconds(self, rng: random.Random) -> float:
        return rng.uniform(self.low_ms, self.high_ms) / 1000

    def __str__(self) -> str:
        if self.low_ms == self.high_ms:
            return f"{self.low_ms:g}"
        return f"{self.low_ms:g}-{self.high_ms:g}"


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    api_key: str = "sk_test_bazaar"
    webhook_secret: str = "whsec_bazaar_dev"  # noqa: S105 - the documented dev default
    webhook_url: str | None = None
    latency: LatencyRange = LatencyRange()
    failure_rate: float = 0.0
    decline_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("failure_rate", "decline_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SimulatorSettings:
        defaults = cls()
        seed = environ.get("PSP_SEED")
        return cls(
            api_key=environ.get("PSP_API_KEY", defaults.api_key),
            webhook_secret=environ.get("PSP_WEBHOOK_SECRET", defaults.webhook_secret),
            webhook_url=environ.get("PSP_WEBHOOK_URL") or None,
            latency=LatencyRange.parse(environ.get("PSP_LATENCY_MS", "0")),
            failure_rate=float(environ.get("PSP_FAILURE_RATE", "0")),
            decline_rate=float(environ.get("PSP_DECLINE_RATE", "0")),
            seed=int(seed) if seed else None,
        )

    def with_changes(self, changes: Mapping[str, Any]) -> SimulatorSettings:
        """Apply a `/_sim/config` body; raises ValueError on unknown keys or bad values."""
        updates: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "latency_ms":
                updates["latency"] = LatencyRange.parse(value)
            elif key in ("failure_rate", "decline_rate"):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key} must be a number between 0 and 1")
                updates[key] = float(value)
            elif key == "webhook_url":
                if value is not None and not isinstance(value, str):
                    raise ValueError("webhook_url must be a URL string or null")
                updates[key] = value or None
            elif key == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("seed must be an integer or null")
                updates[key] = value
            else:
                raise ValueError(f"unknown setting {key!r}")
        return dataclasses.replace(self, **updates)

    def public_view(self) -> dict[str, Any]:
        return {
            "latency_ms": str(self.latency),
            "failure_rate": self.failure_rate,
            "decline_rate": self.decline_rate,
            "webhook_url": self.webhook_url,
            "seed": self.seed,
        }


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What an idempotency key is bound to: the request's fingerprint and the answer it got."""

    fingerprint: str
    status_code: int
    body: dict[str, Any]


class SimulatorState:
    def __init__(self, settings: SimulatorSettings):
        self.initial_settings = settings
        self.webhook_client: httpx.AsyncClient | None = None
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self.reset()

    def reset(self) -> None:
        """Forget every charge, key and delivery and return to the startup settings."""
        for task in self._webhook_tasks:
            task.cancel()
        self._webhook_tasks.clear()
        self.settings = self.initial_settings
        self.rng = random.Random(self.settings.seed)  # noqa: S311 - simulated outcomes, not secrets
        self.charges: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, StoredResponse] = {}
        self.attempts: collections.Counter[str] = collections.Counter()
        self.key_locks: dict[str, asyncio.Lock] = {}
        self.webhook_deliveries: list[dict[str, Any]] = []

    def configure(self, changes: Mapping[str, Any]) -> None:
        new_settings = self.settings.with_changes(changes)
        if "seed" in changes:
            self.rng.seed(new_settings.seed)
        self.settings = new_settings

    def lock_for(self, idempotency_key: str) -> asyncio.Lock:
        # No await between lookup and insert, so two requests cannot create two locks.
        return self.key_locks.setdefault(idempotency_key, asyncio.Lock())

    def schedule_webhook(self, charge: dict[str, Any]) -> None:
        url = self.settings.webhook_url
        if url is None or self.webhook_client is None:
            return
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "type": f"charge.{charge['status']}",
            "created": int(time.time()),
            "data": {"object": charge},
        }
        delivery: dict[str, Any] = {
            "event_id": event["id"],
            "type": event["type"],
            "charge_id": charge["id"],
            "url": url,
            "attempts": 0,
            "delivered": False,
            "last_status": None,
            "last_error": None,
        }
        self.webhook_deliveries.append(delivery)
        task = asyncio.create_task(self._deliver(event, delivery, self.webhook_client))
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    async def _deliver(
        self, event: dict[str, Any], delivery: dict[str, Any], client: httpx.AsyncClient
    ) -> None:
        payload = json.dumps(event).encode()
        for delay in (0.0, *WEBHOOK_RETRY_DELAYS_SECONDS):
            await asyncio.sleep(delay)
            delivery["attempts"] += 1
            # Signed afresh on every attempt, as Stripe does, so a late retry is not "too old".
            signature = signatures.sign(payload, self.settings.webhook_secret, int(time.time()))
            try:
                response = await client.post(
                    delivery["url"],
                    content=payload,
                    headers={
                        "Content-Type": "application/json",
                        signatures.SIGNATURE_HEADER: signature,
                    },
                    timeout=WEBHOOK_TIMEOUT_SECONDS,
                )
            except httpx.HTTPError as exc:
                delivery["last_error"] = repr(exc)
                continue
            delivery["last_status"] = response.status_code
            if response.is_success:
                delivery["delivered"] = True
                return
        logger.warning("webhook %s not delivered to %s", event["id"], delivery["url"])

    async def close(self) -> None:
        tasks = list(self._webhook_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error envelope the rest of Bazaar uses, so one client parses every error alike."""
    body = {"error": {"code": code, "message": message, "details": dict(details or {})}}
    return JSONResponse(body, status_code=status_code, headers=headers)


def validate_charge_request(body: Any) -> dict[str, str]:
    """Return field → problem for a `POST /v1/charges` body; empty when it is valid."""
    if not isinstance(body, dict):
        return {"body": "must be a JSON object"}
    problems = {field: "unknown field" for field in body.keys() - CHARGE_FIELDS}
    amount = body.get("amount")
    if not isinstance(amount, str):
        # A JSON number would be parsed as a float somewhere along the way: money travels as text.
        problems["amount"] = 'required, as a decimal string such as "12.50"'
    else:
        try:
            value = Decimal(amount)
        except InvalidOperation:
            problems["amount"] = "not a decimal number"
        else:
            if not value.is_finite() or value <= 0:
                problems["amount"] = "must be a positive amount"
            elif value.as_tuple().exponent < -2:
                problems["amount"] = "at most two decimal places"
    currency = body.get("currency")
    if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
        problems["currency"] = "required, an ISO 4217 code such as EUR"
    reference = body.get("reference")
    if not isinstance(reference, str) or not 0 < len(reference) <= MAX_REFERENCE_LENGTH:
        problems["reference"] = f"required, 1 to {MAX_REFERENCE_LENGTH} characters"
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(value, str) for value in metadata.values()
    ):
        problems["metadata"] = "must be an object of string values"
    return problems


def _is_authorized(request: Request, api_key: str) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), api_key.encode())


def _unauthorized() -> JSONResponse:
    return error_response(
        401,
        "authentication_required",
        "send the API key as 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _state(request: Request) -> SimulatorState:
    return request.app.state.simulator


def _fingerprint(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def create_charge(request: Request) -> JSONResponse:
    state = _state(request)
    if not _is_authorized(request, state.settings.api_key):
        return _unauthorized()
    idempotency_key = request.headers.get("Idempotency-Key", "")
    if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        return error_response(
            400,
            "idempotency_key_required",
            f"send an Idempotency-Key header of 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
        )
    state.attempts[idempotency_key] += 1
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    problems = validate_charge_request(body)
    if problems:
        return error_response(422, "validation_error", "the charge request is invalid", problems)
    fingerprint = _fingerprint(body)

    async with state.lock_for(idempotency_key):
        stored = state.responses.get(idempotency_key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return error_response(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used with a different request body",
                )
            return JSONResponse(
                stored.body,
                status_code=stored.status_code,
                headers={"Idempotent-Replayed": "true"},
            )

        settings = state.settings
        await asyncio.sleep(settings.latency.draw_seconds(state.rng))
        if state.rng.random() < settings.failure_rate:
            # Nothing is stored, so a retry with the same key gets a fresh chance.
            return error_response(
                503,
                "service_unavailable",
                "the payment provider is temporarily unavailable, retry later",
                headers={"Retry-After": "1"},
            )
        declined = state.rng.random() < settings.decline_rate
        charge = {
            "id": f"ch_{secrets.token_hex(12)}",
            "object": "charge",
            "status": "failed" if declined else "succeeded",
            "amount": str(Decimal(body["amount"]).quantize(Decimal("0.01"))),
            "currency": body["currency"],
            "reference": body["reference"],
            "metadata": body.get("metadata", {}),
            "failure_code": "card_declined" if declined else None,
            "created": int(time.time()),
        }
        state.charges[charge["id"]] = charge
        if declined:
            status_code = 402
            response_body: dict[str, Any] = {
                "error": {
                    "code": "card_declined",
                    "message": "the card was declined",
                    "details": {"charge": charge},
                }
            }
        else:
            status_code, response_body = 201, charge
        state.responses[idempotency_key] = StoredResponse(fingerprint, status_code, response_body)
        state.schedule_webhook(charge)
    return JSONResponse(response_body, status_code=status_code)


async def retrieve_charge(request: Request) -> JSONResponse:
    state = _state(request)
    if not _is_authorized(request, state.settings.api_key):
        return _unauthorized()
    charge = state.charges.get(request.path_params["charge_id"])
    if charge is None:
        return error_response(404, "not_found", "no such charge")
    return JSONResponse(charge)


async def list_charges(request: Request) -> JSONResponse:
    state = _state(request)
    if not _is_authorized(request, state.settings.api_key):
        return _unauthorized()
    reference = request.query_params.get("reference")
    charges = [
        charge
        for charge in state.charges.values()
        if reference is None or charge["reference"] == reference
    ]
    return JSONResponse({"object": "list", "data": charges})


async def sim_config(request: Request) -> JSONResponse:
    state = _state(request)
    if request.method == "POST":
        try:
            changes = json.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            state.configure(changes)
        except ValueError as exc:
            return error_response(422, "invalid_config", str(exc))
    return JSONResponse(state.settings.public_view())


async def sim_charges(request: Request) -> JSONResponse:
    state = _state(request)
    keys = {
        key: {
            "attempts": attempts,
            "status_code": stored.status_code if (stored := state.responses.get(key)) else None,
            "charge_id": _charge_id_of(stored) if stored else None,
        }
        for key, attempts in state.attempts.items()
    }
    charges = list(state.charges.values())
    return JSONResponse({"count": len(charges), "charges": charges, "idempotency_keys": keys})


def _charge_id_of(stored: StoredResponse) -> str:
    if stored.status_code == 402:
        return stored.body["error"]["details"]["charge"]["id"]
    return stored.body["id"]


async def sim_webhooks(request: Request) -> JSONResponse:
    return JSONResponse({"deliveries": _state(request).webhook_deliveries})


async def sim_reset(request: Request) -> JSONResponse:
    state = _state(request)
    state.reset()
    return JSONResponse(state.settings.public_view())


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: SimulatorSettings | None = None) -> Starlette:
    state = SimulatorState(settings or SimulatorSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as webhook_client:
            state.webhook_client = webhook_client
            try:
                yield
            finally:
                await state.close()
                state.webhook_client = None

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/v1/charges", create_charge, methods=["POST"]),
            Route("/v1/charges", list_charges, methods=["GET"]),
            Route("/v1/charges/{charge_id}", retrieve_charge, methods=["GET"]),
            Route("/_sim/config", sim_config, methods=["GET", "POST"]),
            Route("/_sim/charges", sim_charges, methods=["GET"]),
            Route("/_sim/webhooks", sim_webhooks, methods=["GET"]),
            Route("/_sim/reset", sim_reset, methods=["POST"]),
        ],
        lifespan=lifespan,
        max_body_size=MAX_REQUEST_BODY_BYTES,
    )
    app.state.simulator = state
    return app


def main() -> None:
    """Serve the simulator; configured by PORT, HOST and the PSP_* environment variables."""
    try:
        settings = SimulatorSettings.from_env(os.environ)
        port = int(os.environ.get("PORT", DEFAULT_PORT))
    except ValueError as exc:
        sys.exit(f"psp-simulator: invalid configuration: {exc}")
    uvicorn.run(
        create_app(settings),
        host=os.environ.get("HOST", DEFAULT_HOST),
        port=port,
        log_level=os.environ.get("LOG_LEVEL", "info").lower(),
    )
