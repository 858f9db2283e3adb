from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from .. import selectors, services
from ..models import Address
from .serializers import AddressSerializer, RegisterSerializer, UserSerializer


class RegisterView(generics.GenericAPIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    serializer_class = RegisterSerializer
    throttle_scope = "auth"

    @extend_schema(responses={201: UserSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(TokenObtainPairView):
    """Obtain a JWT pair. Repeated failures lock the account out for every worker and pod."""

    throttle_scope = "auth"

    def post(self, request, *args, **kwargs):
        email = request.data.get("email") if isinstance(request.data, dict) else None
        email = email if isinstance(email, str) else ""
        if email and services.login_is_locked(email=email):
            raise Throttled(detail="Too many failed logins for this account; try again later.")
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            if email:
                services.login_record_failure(email=email)
            raise
        if email:
            services.login_record_success(email=email)
        return response


class RefreshView(TokenRefreshView):
    throttle_scope = "auth"


class ProfileView(generics.RetrieveUpdateAPIView):
    serializer_class = UserSerializer
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user

    def perform_update(self, serializer):
        services.user_update_profile(
            user=self.request.user,
            full_name=serializer.validated_data.get("full_name", self.request.user.full_name),
        )


class AddressListView(generics.ListCreateAPIView):
    serializer_class = AddressSerializer
    permission_classes = [permissions.IsAuthenticated]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Address.objects.none()
        return selectors.address_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.address_save(
            user=self.request.user, **serializer.validated_data
        )


class AddressDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = AddressSerializer
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Address.objects.none()
        return selectors.address_list(user=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.address_save(
            user=self.request.user, address=serializer.instance, **serializer.validated_data
        )

    @transaction.atomic
    def perform_destroy(self, instance):
        services.address_delete(address=instance)
