from django.urls import path

from . import views

urlpatterns = [
    path("payments/webhook/", views.PaymentWebhookView.as_view(), name="payment-webhook"),
]
