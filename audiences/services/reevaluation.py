"""Which audiences a processed batch of events can change, and re-evaluating only its profiles.

Profiles that already existed are re-evaluated against the audiences whose rules mention one of
the batch's event names (or traits, when identify/alias events may have changed them). Profiles the
batch created or merged are new to every audience — "never ordered" matches a brand-new profile —
so they are evaluated against all rule audiences.
"""

from __future__ import annotations

from django.db.models import Min

from audiences.models import Audience, AudienceKind
from audiences.services.membership import audiences_affected, profiles_reevaluate
from tracking.models import Event, EventType, Profile, ProfileMerge


def events_reevaluate(*, event_ids: list[int], profile_ids: list[int]) -> int:
    events = Event.objects.filter(id__in=event_ids).order_by()
    names = set(events.exclude(name="").values_list("name", flat=True).distinct())
    traits = events.filter(type__in=[EventType.IDENTIFY, EventType.ALIAS]).exists()
    since = events.aggregate(first=Min("received_at"))["first"]
    fresh: set[int] = set()
    if since is not None:
        fresh = set(
            Profile.objects.filter(pk__in=profile_ids, created_at__gte=since).values_list("pk", flat=True)
        )
        fresh |= set(
            ProfileMerge.objects.filter(survivor_id__in=profile_ids, created_at__gte=since).values_list(
                "survivor_id", flat=True
            )
        )
    known = sorted(set(profile_ids) - fresh)
    changes = 0
    if known:
        audience_ids = audiences_affected(event_names=names, traits=traits, tags=traits)
        changes += profiles_reevaluate(profile_ids=known, audience_ids=audience_ids)
    if fresh:
        every = list(Audience.objects.filter(kind=AudienceKind.RULE).values_list("pk", flat=True))
        changes += profiles_reevaluate(profile_ids=sorted(fresh), audience_ids=every)
    return changes
