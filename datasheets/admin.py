from django.contrib import admin

from qiportal.portal import ReadOnlyAdminMixin

from .models import DatasheetRevision


@admin.register(DatasheetRevision)
class DatasheetRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "site", "indicator_year", "status", "is_current", "uploaded_at", "uploaded_by")
    list_filter = ("status", "indicator_year", "is_current")
    search_fields = ("site__registration_number", "sha256", "original_name")
    readonly_fields = ("sha256", "size", "errors", "warnings", "cover")
