from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services
from ..gateways.base import InvalidWebhookSignature, PaymentError

SIGNATURE_HEADER = "Bazaar-Signature"


class PaymentWebhookView(APIView):
    """Events from the payment provider, authenticated by their HMAC signature."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: OpenApiResponse(description="Event accepted (or already handled)")},
    )
    def post(self, request):
        signature = request.headers.get(SIGNATURE_HEADER, "")
        try:
            handled = services.payment_handle_webhook(
                payload=request.body, signature_header=signature
            )
        except InvalidWebhookSignature as exc:
            raise ParseError(f"Invalid webhook signature: {exc}") from exc
        except PaymentError as exc:  # signed, but not an event this shop can read
            raise ParseError(f"Malformed webhook event: {exc}") from exc
        return Response({"received": True, "duplicate": not handled}, status=status.HTTP_200_OK)
