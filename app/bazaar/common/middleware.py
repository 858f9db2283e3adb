"""Cross-cutting HTTP middleware: probes, request id, Server-Timing with the access log line,
and the error envelope for responses Django (not DRF) produced."""

import json
import time
from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import health
from .errors import envelope

PROBE_VIEWS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": health.healthz,
    "/readyz": health.readyz,
}
access_log = structlog.get_logger("bazaar.http")


class ProbeMiddleware:
    """Answer the kubelet before host validation and the HTTPS redirect.

    The kubelet calls probes on the pod IP over plain HTTP, so with ``ALLOWED_HOSTS`` and
    ``SECURE_SSL_REDIRECT`` in force they would get a 400 or a 301. Probes touch neither the
    session nor the user, so serving them first is safe.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = PROBE_VIEWS.get(request.path_info.rstrip("/") or request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)


class BodySizeLimitMiddleware:
    """Refuse bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` before anything reads them.

    Django enforces the limit only when ``request.body`` is read; DRF's parsers read the
    stream, so without this a huge JSON body would be parsed in full.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit and not request.path.startswith("/admin/"):
            return JsonResponse(
                envelope(
                    code="request_too_large",
                    message=f"The request body is larger than {limit} bytes.",
                    details={"max_bytes": limit},
                ),
                status=413,
            )
        return self.get_response(request)


class RequestTextMiddleware:
    """Refuse a NUL character in the path or the query string with a 400.

    Django decodes both (invalid UTF-8 is re-escaped or replaced, so no surrogate survives),
    but a ``%00`` comes through as NUL, which no Postgres text value can hold: a slug lookup
    or a search with it would be a database error. Bodies are checked by the JSON parser.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.GET
        if "\x00" in request.path_info or any(
            "\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query
        ):
            return JsonResponse(
                envelope(
                    code="invalid_request",
                    message="The path and query string must not contain NUL (%00) characters.",
                ),
                status=400,
            )
        return self.get_response(request)


class RequestIdHeaderMiddleware:
    """Return the request id django-structlog bound (taken from ``X-Request-ID`` when sent)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            response["X-Request-ID"] = request_id
        return response


class ServerTimingMiddleware:
    """Time the request and its queries: a ``Server-Timing`` header and one access log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        queries = {"count": 0, "seconds": 0.0}

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries["count"] += 1
                queries["seconds"] += time.perf_counter() - started

        started = time.perf_counter()
        with _wrap_all_connections(timed):
            response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        db_ms = queries["seconds"] * 1000
        response["Server-Timing"] = (
            f'app;dur={elapsed_ms:.1f}, db;dur={db_ms:.1f};desc="{queries["count"]} queries"'
        )
        log = access_log.warning if response.status_code >= 500 else access_log.info
        # DRF sets the authenticated (JWT) user on the Django request as well.
        user = getattr(request, "user", None)
        log(
            "http_request",
            user_id=getattr(user, "pk", None),
            method=request.method,
            path=request.path,
            status=response.status_code,
            latency_ms=round(elapsed_ms, 2),
            db_queries=queries["count"],
        )
        return response


class _wrap_all_connections:
    def __init__(self, wrapper):
        self.wrapper = wrapper
        self.contexts = []

    def __enter__(self):
        for connection in connections.all(initialized_only=False):
            context = connection.execute_wrapper(self.wrapper)
            context.__enter__()
            self.contexts.append(context)

    def __exit__(self, *exc):
        for context in reversed(self.contexts):
            context.__exit__(*exc)


class ErrorEnvelopeMiddleware:
    """Put Django-made error responses (CSRF 403, 405, 413…) into the API error envelope.

    DRF views already answer in the envelope (``errors.api_exception_handler``); the admin keeps
    its HTML pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or request.path.startswith("/admin/"):
            return response
        if response.get("Content-Type", "").startswith("application/json") and _is_envelope(
            response
        ):
            return response
        wrapped = JsonResponse(
            envelope(
                code=_CODES.get(response.status_code, "error"),
                message=response.reason_phrase,
            ),
            status=response.status_code,
        )
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                wrapped[header] = response[header]
        return wrapped


_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def _is_envelope(response: HttpResponse) -> bool:
    if getattr(response, "streaming", False):
        return True
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict)
