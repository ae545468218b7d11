"""What the engine knows about the profiles of one batch, loaded with one query per kind of fact."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import F

from core.bulk import AnyOf
from journeys.engine.core import EventFact
from journeys.schedule import zone_for
from tracking.models import Event, Profile


def audience_slugs(definition: dict) -> set[str]:
    slugs = {c["audience_exited"] for c in definition.get("exit_when", []) if "audience_exited" in c}
    for stage in definition.get("stages", []):
        for t in stage.get("transitions", []):
            if "on_audience_entered" in t:
                slugs.add(t["on_audience_entered"])
    return slugs


class BatchFacts:
    """Facts for a set of profiles up to `now`, prefetched for the event names and audiences asked about."""

    def __init__(
        self,
        *,
        profile_ids: set[int],
        event_names: set[str],
        slugs: set[str],
        since: datetime | None,
        now: datetime,
    ) -> None:
        self._events: dict[int, list[EventFact]] = defaultdict(list)
        self._entries: dict[tuple[int, str], list[datetime]] = defaultdict(list)
        self._exits: dict[tuple[int, str], list[datetime]] = defaultdict(list)
        self._rules: dict[tuple[str, int], bool] = {}
        self._zones: dict[int, ZoneInfo] = {}
        self._by_name: dict[str, ZoneInfo] = {}
        if not profile_ids:
            return
        self._zone_names = dict(
            Profile.objects.filter(AnyOf(F("pk"), profile_ids)).values_list("pk", "timezone")
        )
        if event_names and since is not None:
            rows = (
                Event.objects.filter(
                    AnyOf(F("profile_id"), profile_ids),
                    name__in=event_names,
                    timestamp__gt=since,
                    timestamp__lte=now,
                )
                .order_by("timestamp", "id")
                .values_list("id", "profile_id", "name", "properties", "timestamp")
            )
            for eid, pid, name, props, ts in rows:
                self._events[pid].append(EventFact(eid, name, props or {}, ts))
        if slugs:
            try:
                membership = apps.get_model("audiences", "AudienceMembership")
            except LookupError:
                membership = None
            if membership is not None:
                rows = membership.objects.filter(
                    AnyOf(F("profile_id"), profile_ids), audience__slug__in=slugs
                ).values_list("profile_id", "audience__slug", "entered_at", "exited_at")
                for pid, slug, entered_at, exited_at in rows:
                    if entered_at is not None:
                        self._entries[(pid, slug)].append(entered_at)
                    if exited_at is not None:
                        self._exits[(pid, slug)].append(exited_at)

    def events(self, profile_id: int, names: set[str], after: datetime, until: datetime) -> list[EventFact]:
        return [
            e for e in self._events.get(profile_id, []) if e.name in names and after < e.timestamp <= until
        ]

    def audience_entries(
        self, profile_id: int, slug: str, after: datetime, until: datetime
    ) -> list[datetime]:
        return [t for t in self._entries.get((profile_id, slug), []) if after < t <= until]

    def audience_exits(self, profile_id: int, slug: str, after: datetime, until: datetime) -> list[datetime]:
        return [t for t in self._exits.get((profile_id, slug), []) if after < t <= until]

    def rule_matches(self, rule: dict, profile_id: int, now: datetime) -> bool:
        import json

        key = (json.dumps(rule, sort_keys=True), profile_id)
        if key not in self._rules:
            from audiences.compiler import profile_matches

            self._rules[key] = bool(profile_matches(rule, profile_id=profile_id, now=now))
        return self._rules[key]

    def zone(self, profile_id: int) -> ZoneInfo:
        zone = self._zones.get(profile_id)
        if zone is None:
            # Resolved once per zone name: most of a batch shares a handful of zones.
            name = self._zone_names.get(profile_id) or ""
            zone = self._by_name.get(name)
            if zone is None:
                zone = self._by_name[name] = zone_for(name)
            self._zones[profile_id] = zone
        return zone
