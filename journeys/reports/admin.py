"""The admin's way in: "Campaign reports" on the admin index (for anyone allowed to view reports),
plus the costs that reports count (configured per-message prices and manual spend)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from journeys.reports.models import CampaignSpend, ChannelCost, ReportAccess


@admin.register(ReportAccess)
class ReportAccessAdmin(admin.ModelAdmin):
    """No rows: the entry opens the report pages."""

    def has_module_permission(self, request):
        return request.user.has_perm("reports.view_reports")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("reports.view_reports")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("reports:overview"))


@admin.register(ChannelCost)
class ChannelCostAdmin(admin.ModelAdmin):
    list_display = ("channel", "amount", "currency", "valid_from", "note")
    list_filter = ("channel",)


@admin.register(CampaignSpend)
class CampaignSpendAdmin(admin.ModelAdmin):
    list_display = ("campaign_kind", "campaign_id", "day", "amount", "currency", "note")
    list_filter = ("campaign_kind",)
    date_hierarchy = "day"
