from django.contrib import admin

from notifications.models import Notification, NotificationSettings


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """To read: notifications are written by the queue alone."""

    list_display = ["pk", "recipient", "kind", "task", "actor", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient", "task", "actor"]
    raw_id_fields = ["recipient", "event", "task", "project", "actor", "mention"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "email", "email_mentioned", "email_assigned", "email_commented", "email_moved"]
    raw_id_fields = ["user"]
