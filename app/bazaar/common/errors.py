"""One error envelope for every 4xx/5xx: ``{"error": {"code", "message", "details"}}``."""

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = structlog.get_logger(__name__)


class ApiError(exceptions.APIException):
    """A domain error with its own status and code, raised by services and rendered as is."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "error"
    default_detail = "The request could not be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, details=None):
        super().__init__(message or self.default_detail, code or self.default_code)
        self.error_code = code or self.default_code
        self.details = details or {}


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class Unprocessable(ApiError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request is well-formed but cannot be processed."


def envelope(*, code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, then reshaped into the envelope; Django's own errors mapped first."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = envelope(code=exc.error_code, message=str(exc.detail), details=exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        body = envelope(
            code="invalid",
            message="The request has invalid fields.",
            details=_as_details(response.data),
        )
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        body = envelope(code=code, message=str(detail) or str(exc))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            body["error"]["details"] = {"retry_after_seconds": int(exc.wait)}
    response.data = body
    return response


def _as_details(data: Any) -> dict:
    if isinstance(data, dict):
        return {"fields": data}
    return {"fields": {"non_field_errors": data}}


def _json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(envelope(code=code, message=message), status=status_code)


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return _json_error(400, "bad_request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return _json_error(403, "permission_denied", "You do not have permission to do this.")


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return _json_error(404, "not_found", "Not found.")


def server_error(request: HttpRequest) -> JsonResponse:
    return _json_error(500, "server_error", "An unexpected error occurred.")
