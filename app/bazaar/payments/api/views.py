from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from bazaar.common.errors import ApiError

from .. import services
from ..gateways.base import InvalidWebhookSignature, PaymentError
from ..gateways.signatures import SIGNATURE_HEADER


class InvalidSignature(ApiError):
    """The signature authenticates the provider: without a valid one the event is a 401."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_signature"
    default_detail = "The webhook signature is missing or invalid."
    auth_header = f'{SIGNATURE_HEADER} realm="payments"'  # DRF sends it as WWW-Authenticate


class PaymentWebhookView(APIView):
    """Events from the payment provider, authenticated by their HMAC signature."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object"}},
        parameters=[
            OpenApiParameter(
                SIGNATURE_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description='"t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">"',
            )
        ],
        responses={200: OpenApiResponse(description="Event accepted (or already handled)")},
    )
    def post(self, request):
        signature = request.headers.get(SIGNATURE_HEADER, "")
        try:
            handled = services.payment_handle_webhook(
                payload=request.body, signature_header=signature
            )
        except InvalidWebhookSignature as exc:
            raise InvalidSignature(f"Invalid webhook signature: {exc}") from exc
        except PaymentError as exc:  # signed, but not an event this shop can read
            raise ParseError(f"Malformed webhook event: {exc}") from exc
        return Response({"received": True, "duplicate": not handled}, status=status.HTTP_200_OK)
