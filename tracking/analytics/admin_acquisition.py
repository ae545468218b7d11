"""The admin's way in to the growth pages, and what they read: the channel taxonomy (operators edit
it), partners, ad spend and its imports, and the exchange rates (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from tracking.analytics.models import AdSpend, ChannelRule, FxRate, GrowthAccess, Partner, SpendImport


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(GrowthAccess)
class GrowthAccessAdmin(_ReadOnly):
    """No rows: the entry opens the acquisition page (LTV and CLV are one click away)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("analytics.view_growth")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("analytics.view_growth")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return HttpResponseRedirect(reverse("analytics:acquisition"))


@admin.action(description="Apply the taxonomy and partners to every stored touch, then recompute credits")
def touches_apply(modeladmin, request: HttpRequest, queryset) -> None:
    from tracking.analytics.acquisition.attribution import attribution_refresh
    from tracking.analytics.acquisition.rollup import acquisition_rollup_rebuild
    from tracking.analytics.acquisition.touches import touches_reclassify

    changed = touches_reclassify()
    attribution_refresh()
    acquisition_rollup_rebuild()
    modeladmin.message_user(request, f"{changed} touches changed channel or partner.", messages.SUCCESS)


@admin.register(ChannelRule)
class ChannelRuleAdmin(admin.ModelAdmin):
    list_display = ("priority", "channel", "source_pattern", "medium_pattern", "referrer_pattern", "click_id_pattern", "enabled", "note")  # fmt: skip
    list_display_links = ("priority", "channel")
    list_filter = ("channel", "enabled")
    ordering = ("priority", "id")
    actions = [touches_apply]

    def save_model(self, request: HttpRequest, obj: ChannelRule, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        messages.info(request, "New touches use it now; apply it to stored touches with the list's action.")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "utm_value", "ref_code", "coupon_code", "commission_percent", "fixed_fee", "fee_currency")  # fmt: skip
    list_filter = ("kind",)
    search_fields = ("name", "utm_value", "ref_code", "coupon_code")
    actions = [touches_apply]


@admin.register(SpendImport)
class SpendImportAdmin(_ReadOnly):
    list_display = ("created_at", "platform", "file_name", "rows", "created_by")
    list_filter = ("platform",)


@admin.register(AdSpend)
class AdSpendAdmin(_ReadOnly):
    list_display = ("day", "platform", "channel", "campaign", "ad_group", "ad", "impressions", "clicks", "cost", "currency")  # fmt: skip
    list_filter = ("platform", "channel", "currency")
    search_fields = ("campaign", "ad")
    date_hierarchy = "day"


@admin.register(FxRate)
class FxRateAdmin(_ReadOnly):
    list_display = ("day", "currency", "per_eur", "published_on")
    list_filter = ("currency",)
    date_hierarchy = "day"
