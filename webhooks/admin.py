from django.contrib import admin

from webhooks.models import Delivery, Webhook


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "project", "active", "consecutive_failures", "disabled_at", "created_at"]
    list_filter = ["active"]
    list_select_related = ["project"]
    raw_id_fields = ["project", "created_by"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The log, to read: deliveries are written by the queue alone."""

    list_display = ["pk", "webhook", "kind", "seq", "status", "attempts", "response_code", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["webhook__project"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
