from django.contrib import admin

from qiportal.portal import ReadOnlyAdminMixin

from .models import Audit, Centre, Certificate, LogEntry, Membership, Site


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0
    fields = ("registration_number", "name", "city", "country", "standalone")


@admin.register(Centre)
class CentreAdmin(admin.ModelAdmin):
    list_display = ("name", "city")
    search_fields = ("name", "city")
    inlines = [SiteInline]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("registration_number", "name", "city", "country", "standalone")
    list_filter = ("country", "standalone")
    search_fields = ("registration_number", "name", "city")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "site")
    list_filter = ("role",)
    search_fields = ("user__username", "site__registration_number")
    autocomplete_fields = ("site",)


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ("site", "valid_from", "valid_until", "status")
    list_filter = ("status",)


@admin.register(Audit)
class AuditAdmin(admin.ModelAdmin):
    """Audits: auditors, REDZYK and outcome are shown but set only on the office's page
    (``audit_auditors_set`` / ``audit_update``), which logs them from → to (issue 9)."""

    list_display = ("site", "audit_year", "kind", "date", "reduced_cycle", "outcome")
    list_filter = ("audit_year", "kind")
    readonly_fields = ("auditors", "reduced_cycle", "outcome")


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "content_type", "object_id")
    list_filter = ("action",)
    readonly_fields = ("created_at", "actor", "action", "content_type", "object_id", "data")
