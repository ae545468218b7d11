"""Which audiences a processed batch of events can change, and re-evaluating only its profiles."""

from __future__ import annotations

from audiences.services.membership import audiences_affected, profiles_reevaluate
from tracking.models import Event, EventType


def events_reevaluate(*, event_ids: list[int], profile_ids: list[int]) -> int:
    events = Event.objects.filter(id__in=event_ids).order_by()
    names = set(events.exclude(name="").values_list("name", flat=True).distinct())
    # Identify events and merges can change traits (and merged tags); both are in the batch's profiles.
    traits = events.filter(type__in=[EventType.IDENTIFY, EventType.ALIAS]).exists()
    audience_ids = audiences_affected(event_names=names, traits=traits, tags=traits)
    return profiles_reevaluate(profile_ids=sorted(set(profile_ids)), audience_ids=audience_ids)
