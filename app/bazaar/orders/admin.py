from django.contrib import admin, messages

from bazaar.common.errors import ApiError

from . import services
from .models import IdempotencyKey, Order, OrderLine, StockMovement


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["product", "product_name", "unit_price", "quantity", "line_total"]
    exclude = ["product_slug"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "total", "currency", "created_at", "paid_at"]
    list_filter = ["status", "currency"]
    search_fields = ["id", "user__email"]
    readonly_fields = ["user", "status", "currency", "total", "created_at", "paid_at", "expires_at"]
    inlines = [OrderLineInline]
    actions = ["fulfill"]

    @admin.action(description="Mark selected paid orders as fulfilled")
    def fulfill(self, request, queryset):
        for order in queryset:
            try:
                services.order_fulfill(order_id=order.pk)
            except ApiError as exc:
                self.message_user(request, f"{order.pk}: {exc.detail}", messages.WARNING)


admin.site.register(StockMovement)
admin.site.register(IdempotencyKey)
