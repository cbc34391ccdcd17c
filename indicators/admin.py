from django.contrib import admin

from qiportal.portal import ReadOnlyAdminMixin

from .models import CatalogueVersion, Deviation, IndicatorDefinition, IndicatorYear


@admin.register(CatalogueVersion)
class CatalogueVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "indicator_year", "audit_year", "layout_revision")


@admin.register(IndicatorYear)
class IndicatorYearAdmin(admin.ModelAdmin):
    list_display = ("year", "catalogue_version")


@admin.register(IndicatorDefinition)
class IndicatorDefinitionAdmin(admin.ModelAdmin):
    list_display = (
        "version",
        "code",
        "title_de",
        "kind",
        "target_op",
        "target_value",
        "corridor_lower",
        "corridor_upper",
        "certainty",
    )
    list_filter = ("version", "kind", "certainty")
    search_fields = ("code", "title_de")


@admin.register(Deviation)
class DeviationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("site", "indicator_year", "code", "flag", "state", "is_active")
    list_filter = ("indicator_year", "flag", "state", "is_active")
    search_fields = ("site__registration_number", "code")
    readonly_fields = ("opened_at", "closed_at")
