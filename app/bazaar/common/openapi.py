"""OpenAPI: every operation documents the error envelope for the statuses it can answer with,
so clients (and schemathesis' conformance checks) know what a 4xx looks like."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

ERROR_ENVELOPE = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "error": inline_serializer(
            name="Error",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)
# Any request: bad query or host (400), a bad or expired token (401), permissions (403),
# a missing object or cursor (404), throttling (429).
ANY_REQUEST = {400, 401, 403, 404, 429}
# Requests with a body may also conflict with the state (409), be too large (413), be of the
# wrong media type (415), or reuse an idempotency key (422).
WITH_BODY = {409, 413, 415, 422}
DESCRIPTIONS = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Permission denied",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable (e.g. an Idempotency-Key reused with another body)",
    429: "Throttled",
}


class AutoSchema(BaseAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        statuses = ANY_REQUEST | (WITH_BODY if self.method in {"POST", "PUT", "PATCH"} else set())
        if self.method == "DELETE":
            statuses |= {409}
        for status in sorted(statuses):
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    ERROR_ENVELOPE, str(status), direction=direction
                )
                responses[str(status)]["description"] = DESCRIPTIONS[status]
        return responses
