"""The names rules may refer to: event names and top-level trait keys seen so far.

Kept in a small table updated from each processed batch, so validating a rule never scans the
event table; `catalogue_rebuild` fills it from a bounded recent window (for existing data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from audiences.models import CatalogueEntry, CatalogueKind
from tracking.models import Event, EventType, Profile


@dataclass
class Catalogue:
    events: set[str]
    traits: set[str]

    @classmethod
    def load(cls) -> Catalogue:
        events: set[str] = set()
        traits: set[str] = set()
        for kind, name in CatalogueEntry.objects.values_list("kind", "name"):
            (events if kind == CatalogueKind.EVENT else traits).add(name)
        return cls(events=events, traits=traits)

    def event_known(self, name: str) -> bool:
        return name in self.events

    def trait_known(self, key: str) -> bool:
        return key in self.traits


def catalogue_note(*, kind: str, names: Iterable[str]) -> None:
    now = timezone.now()
    rows = [CatalogueEntry(kind=kind, name=n[:200], last_seen_at=now) for n in set(names) if n]
    if rows:
        CatalogueEntry.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["kind", "name"], update_fields=["last_seen_at"]
        )


def catalogue_note_events(*, event_ids: list[int]) -> None:
    """Record the names and identify trait keys of one processed batch (bounded by the batch size)."""
    events = Event.objects.filter(id__in=event_ids).order_by()
    catalogue_note(kind=CatalogueKind.EVENT, names=events.values_list("name", flat=True).distinct())
    keys: set[str] = set()
    for traits in events.filter(type=EventType.IDENTIFY).values_list("traits", flat=True):
        if isinstance(traits, dict):
            keys |= set(traits)
    catalogue_note(kind=CatalogueKind.TRAIT, names=keys)


def catalogue_rebuild(*, days: int = 30, profile_sample: int = 5000) -> None:
    """Fill the catalogue from the last `days` of events and a sample of recent profiles."""
    since = timezone.now() - timedelta(days=days)
    names = (
        Event.objects.filter(timestamp__gte=since)
        .exclude(name="")
        .order_by()
        .values("name")
        .annotate(last=Max("timestamp"))
        .values_list("name", flat=True)
    )
    catalogue_note(kind=CatalogueKind.EVENT, names=names)
    keys: set[str] = set()
    for traits in Profile.objects.order_by("-id").values_list("traits", flat=True)[:profile_sample]:
        if isinstance(traits, dict):
            keys |= set(traits)
    catalogue_note(kind=CatalogueKind.TRAIT, names=keys)
