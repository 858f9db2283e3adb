from django.contrib import admin

from .models import Payment, WebhookEvent


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["order", "status", "amount", "currency", "attempts", "updated_at"]
    list_filter = ["status"]
    readonly_fields = [field.name for field in Payment._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "received_at"]
