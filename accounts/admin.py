"""Profiles in the admin, beside the users they describe."""

from django.contrib import admin

from accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "avatar_colour"]
    search_fields = ["user__username", "user__email", "display_name"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
