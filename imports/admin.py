from django.contrib import admin

from imports.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "application", "kind", "file_name", "status", "done", "total", "project", "created_at"]
    list_filter = ["status", "kind"]
    exclude = ["source"]
    readonly_fields = ["application", "created_by", "kind", "file_name", "project", "done", "total", "error"]
