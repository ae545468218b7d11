"""The admin's way in to the behaviour pages, and the settings they read (event-name mapping, search
synonyms, saved analyses)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from tracking.analytics.models import BehaviourAccess, EventNameMapping, SavedAnalysis, SearchSynonym


@admin.register(BehaviourAccess)
class BehaviourAccessAdmin(admin.ModelAdmin):
    """No rows: the entry opens the funnel page (the others are one click away)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("analytics.view_behaviour")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("analytics.view_behaviour")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return HttpResponseRedirect(reverse("analytics:behaviour-funnel"))


@admin.register(SavedAnalysis)
class SavedAnalysisAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "created_by", "updated_at", "open_link")
    list_filter = ("kind",)
    search_fields = ("name",)
    readonly_fields = ("created_by", "created_at", "updated_at")

    @admin.display(description="Open")
    def open_link(self, obj: SavedAnalysis) -> str:
        return format_html('<a href="{}">open</a>', reverse("analytics:behaviour-saved", args=[obj.pk]))


@admin.register(EventNameMapping)
class EventNameMappingAdmin(admin.ModelAdmin):
    list_display = ("workspace_name", "spec_name")
    list_filter = ("spec_name",)
    search_fields = ("workspace_name",)


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    list_display = ("term", "keyword")
    search_fields = ("term", "keyword")

    def save_model(self, request: HttpRequest, obj: SearchSynonym, form, change: bool) -> None:
        # Stored as the search page normalises queries, so "  Tee " matches "tee".
        obj.term = " ".join(obj.term.lower().split())
        obj.keyword = " ".join(obj.keyword.lower().split())
        super().save_model(request, obj, form, change)
