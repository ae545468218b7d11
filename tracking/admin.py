"""Django admin for tracking, for operators. The order-import admin lives in tracking.admin_imports."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tracking import (
    admin_imports,  # noqa: F401  (registers the order-import admin, owned by that module)
    selectors,
)
from tracking.models import (
    Consent,
    ConsentChange,
    ContactPoint,
    Event,
    Identity,
    IdentityConflict,
    IdentityKind,
    Profile,
    ProfileMerge,
    Source,
)
from tracking.origins import origins_normalize
from tracking.roles import PersonalDataAdmin
from tracking.services.profiles import profile_erase
from tracking.services.sources import source_write_key_rotate

TIMELINE_SIZE = 50


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows, so a list page over millions of events never waits on COUNT(*).

    Past the cap the page links stop at CAP rows; filters narrow the list further.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP].count()


def pretty_json(value: Any) -> SafeString:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened: viewable, never edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentityInline(ReadOnlyInline):
    model = Identity
    fields = readonly_fields = ("kind", "namespace", "value", "created_at")
    verbose_name_plural = "identities (how events find this person)"


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0
    fields = ("channel", "address", "is_primary", "active", "created_at")
    readonly_fields = ("created_at",)


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = readonly_fields = ("channel", "topic", "status", "changed_at", "method", "detail")
    verbose_name_plural = "consent (current; change it through the API or the preference page)"


class ConsentChangeInline(ReadOnlyInline):
    model = ConsentChange
    fields = readonly_fields = ("changed_at", "channel", "topic", "status", "method", "detail")
    verbose_name_plural = "consent history"
    classes = ("collapse",)


def _identity_map(profile: Profile) -> dict[str, str]:
    """First value per identity kind, from the prefetched identities."""
    found: dict[str, str] = {}
    for identity in sorted(profile.identities.all(), key=lambda i: i.pk):
        found.setdefault(identity.kind, identity.value)
    return found


@admin.register(Profile)
class ProfileAdmin(PersonalDataAdmin, admin.ModelAdmin):
    list_display = ("id", "main_identity", "email", "country", "timezone", "last_seen_at")
    list_display_links = ("id", "main_identity")
    # The search box matches any identity exactly (see get_search_results); this just shows it.
    search_fields = ("identities__value",)
    search_help_text = (
        "Part of a name, email, phone, user id or external id (any case, from three characters), "
        "or a profile id."
    )
    inlines = (IdentityInline, ContactPointInline, ConsentInline, ConsentChangeInline)
    fields = (
        "timezone",
        "locale",
        "country",
        "tags",
        "traits_pretty",
        "trait_times",
        "first_seen_at",
        "last_seen_at",
        "created_at",
        "merged_ids",
        "timeline",
    )
    readonly_fields = (
        "traits_pretty",
        "trait_times",
        "first_seen_at",
        "last_seen_at",
        "created_at",
        "merged_ids",
        "timeline",
    )
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ("-id",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        return super().get_queryset(request).prefetch_related("identities")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Profile], search_term: str
    ) -> tuple[QuerySet[Profile], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(selectors.profiles_search(term=search_term)), False

    @admin.display(description="main identity")
    def main_identity(self, profile: Profile) -> str:
        ids = _identity_map(profile)
        for kind in (IdentityKind.USER_ID, IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.EXTERNAL):
            if kind in ids:
                return f"{IdentityKind(kind).label}: {ids[kind]}"
        if IdentityKind.ANONYMOUS_ID in ids:
            return f"anonymous: {ids[IdentityKind.ANONYMOUS_ID]}"
        return "—"

    @admin.display(description="email")
    def email(self, profile: Profile) -> str:
        return _identity_map(profile).get(IdentityKind.EMAIL) or profile.traits.get("email") or ""

    @admin.display(description="traits")
    def traits_pretty(self, profile: Profile) -> SafeString:
        return pretty_json(profile.traits)

    @admin.display(description="when each trait changed")
    def trait_times(self, profile: Profile) -> SafeString:
        return pretty_json(profile.trait_updated_at)

    @admin.display(description="merged from profiles")
    def merged_ids(self, profile: Profile) -> str:
        ids = selectors.profile_merged_ids(profile_id=profile.pk) if profile.pk else []
        return ", ".join(str(i) for i in ids) or "—"

    @admin.display(description=f"timeline (latest {TIMELINE_SIZE} events)")
    def timeline(self, profile: Profile) -> SafeString:
        if not profile.pk:
            return SafeString("")
        events = list(selectors.profile_events(profile_id=profile.pk)[:TIMELINE_SIZE])
        return render_to_string(
            "admin/tracking/profile/timeline.html",
            {
                "events": [
                    {
                        "event": e,
                        "url": reverse("admin:tracking_event_change", args=[e.pk]),
                        "summary": json.dumps(e.properties or e.traits, ensure_ascii=False, sort_keys=True)[
                            :160
                        ],
                    }
                    for e in events
                ],
                "all_url": reverse("admin:tracking_event_changelist") + f"?profile__id__exact={profile.pk}",
            },
        )

    # Deleting a profile is a GDPR erasure: through the service, so upper floors hear of it.
    def delete_model(self, request: HttpRequest, obj: Profile) -> None:
        profile_erase(profile=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        for profile in queryset:
            profile_erase(profile=profile)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[list, dict, set, list]:
        """Counts instead of Django's list of every cascaded row: a profile can have thousands of events,
        and events (read-only here) must not block an erasure the operator is allowed to make."""
        ids = [p.pk for p in objs]
        counts = {
            "profiles": len(ids),
            "events": Event.objects.filter(profile_id__in=ids).count(),
            "identities": Identity.objects.filter(profile_id__in=ids).count(),
            "consent records": ConsentChange.objects.filter(profile_id__in=ids).count(),
        }
        summary = [f"{p} — everything about this person, including messages sent to them" for p in objs]
        return summary, counts, set(), []


class SourceForm(forms.ModelForm):
    allowed_origins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "placeholder": "https://shop.example.com"}),
        help_text=(
            "One origin per line (scheme://host[:port], no path): the shop's pages that may send events "
            "with this write key from a browser (analytics.js). Empty: no browser may. Server-side and "
            "mobile SDKs are not affected."
        ),
    )

    class Meta:
        model = Source
        fields = ("name", "enabled", "rate_limit_per_second", "allowed_origins")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["allowed_origins"] = "\n".join(self.instance.allowed_origins or [])

    def clean_allowed_origins(self) -> list[str]:
        return origins_normalize(self.cleaned_data["allowed_origins"].splitlines(), unit="line")


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = ("name", "enabled", "rate_limit_per_second", "origins", "created_at")
    list_editable = ("enabled", "rate_limit_per_second")
    search_fields = ("name",)
    fields = ("name", "write_key", "enabled", "rate_limit_per_second", "allowed_origins", "created_at")
    readonly_fields = ("write_key", "created_at")

    @admin.display(description="browser origins")
    def origins(self, obj: Source) -> str:
        return ", ".join(obj.allowed_origins or []) or "none"

    actions = ("rotate_write_key",)

    @admin.action(description="Give selected sources a new write key", permissions=["change"])
    def rotate_write_key(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            source_write_key_rotate(source=source)
        self.message_user(
            request, f"{queryset.count()} source(s) have a new write key; update the SDKs.", messages.WARNING
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Events keep their source; disable a source instead of deleting it.
        return False


class EventNameFilter(admin.SimpleListFilter):
    """Names seen among recent events: a DISTINCT over the whole table would be a full scan."""

    title = "name"
    parameter_name = "name"
    RECENT = 20_000

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        recent = Event.objects.order_by("-id").values_list("name", flat=True)[: self.RECENT]
        return [(n, n) for n in sorted({n for n in recent if n})]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(name=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(PersonalDataAdmin, ReadOnlyAdmin):
    list_display = ("timestamp", "type", "name", "source", "profile_link", "user_id", "anonymous_id")
    list_filter = ("source", "type", EventNameFilter)
    list_select_related = ("source",)
    date_hierarchy = "timestamp"
    # Newest received first: the primary key orders big tables without a sort.
    ordering = ("-id",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    # The search box: an event name or message id exactly, or a person (as the profile search finds them).
    search_fields = ("name",)
    search_help_text = (
        "An event name or message id (exactly), or part of a person's name, email, phone or user id."
    )
    fields = (
        "type",
        "name",
        "source",
        "profile",
        "message_id",
        "user_id",
        "anonymous_id",
        "group_id",
        "previous_id",
        "timestamp",
        "original_timestamp",
        "sent_at",
        "received_at",
        "processed_at",
        "properties_pretty",
        "traits_pretty",
        "context_pretty",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        term = " ".join(search_term.split())
        if not term:
            return queryset, False
        # Events are too many to scan for substrings; a person's events come through the (profile,
        # timestamp) index, for at most the first 500 people the term finds.
        people = Profile.objects.filter(selectors.profiles_search(term=term)).values_list("pk", flat=True)[
            :500
        ]
        matches = Q(name=term) | Q(message_id=term) | Q(user_id=term) | Q(profile_id__in=list(people))
        return queryset.filter(matches), False

    @admin.display(description="profile")
    def profile_link(self, event: Event) -> str:
        if event.profile_id is None:
            return "—"
        url = reverse("admin:tracking_profile_change", args=[event.profile_id])
        return format_html('<a href="{}">{}</a>', url, event.profile_id)

    @admin.display(description="properties")
    def properties_pretty(self, event: Event) -> SafeString:
        return pretty_json(event.properties)

    @admin.display(description="traits")
    def traits_pretty(self, event: Event) -> SafeString:
        return pretty_json(event.traits)

    @admin.display(description="context")
    def context_pretty(self, event: Event) -> SafeString:
        return pretty_json(event.context)


@admin.register(IdentityConflict)
class IdentityConflictAdmin(PersonalDataAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "profile", "other_profile", "kind", "value", "detail")
    list_filter = ("kind",)
    search_fields = ("=value",)
    fields = readonly_fields = ("created_at", "profile", "other_profile", "kind", "value", "event", "detail")


@admin.register(ProfileMerge)
class ProfileMergeAdmin(PersonalDataAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "survivor", "merged_profile_id", "reason")
    search_fields = ("=merged_profile_id", "=survivor__id")
    fields = readonly_fields = ("created_at", "survivor", "merged_profile_id", "reason")


@admin.register(ConsentChange)
class ConsentChangeAdmin(PersonalDataAdmin, ReadOnlyAdmin):
    list_display = ("changed_at", "profile", "channel", "topic", "status", "method", "detail")
    list_filter = ("channel", "status", "method")
    date_hierarchy = "changed_at"
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = readonly_fields = ("changed_at", "profile", "channel", "topic", "status", "method", "detail")
