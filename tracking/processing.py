"""Identity resolution: pending events are tied to profiles, in batches, one processor at a time.

Per batch: collect every identity key the events carry, look them all up at once, join keys that
arrive together (union-find) unless that would put two different user ids on one profile (then the
conflict is recorded and nothing merges), create the profiles that are missing, merge profiles an
event proved to be one person, and apply identify traits newest-wins. Processing order is the
events' arrival order, so the outcome is deterministic.

One processor at a time (a PostgreSQL advisory lock) keeps profile creation free of races; the
batch work is a handful of set-based queries, so one processor keeps up with ingestion.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracking import signals
from tracking.identity_keys import Key, event_keys, event_traits
from tracking.locality import locality_from
from tracking.models import (
    Channel,
    ContactPoint,
    Event,
    EventType,
    Identity,
    IdentityConflict,
    IdentityKind,
    Profile,
)
from tracking.services.profiles import profile_merge, traits_merge

logger = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 7_114_001  # "voyage tracking processor"

Node = tuple[Any, ...]  # an identity Key, or ("profile", id)


@dataclass
class ProcessResult:
    events: int = 0
    new_profiles: int = 0
    merges: int = 0
    conflicts: int = 0
    profile_ids: set[int] = field(default_factory=set)


class _Components:
    """Union-find over identity keys and existing profiles, carrying each component's user ids."""

    def __init__(self) -> None:
        self.parent: dict[Node, Node] = {}
        self.user_ids: dict[Node, set[str]] = {}

    def add(self, node: Node, user_ids: set[str]) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.user_ids[node] = set(user_ids)

    def find(self, node: Node) -> Node:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: Node, b: Node) -> bool:
        """Join two components; refuse (False) when they hold different user ids."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ua, ub = self.user_ids[ra], self.user_ids[rb]
        if ua and ub and ua != ub:
            return False
        # The smaller node becomes the root, so the result does not depend on hash order.
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.user_ids[ra] = ua | ub
        return True


def events_process_pending(*, max_batches: int | None = None) -> ProcessResult:
    """Resolve pending events until none are left (or max_batches ran). Safe to call concurrently."""
    total = ProcessResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        result = _process_one_batch(settings.TRACKING_PROCESS_BATCH_SIZE)
        if result is None:
            break
        batches += 1
        total.events += result.events
        total.new_profiles += result.new_profiles
        total.merges += result.merges
        total.conflicts += result.conflicts
        total.profile_ids |= result.profile_ids
    return total


def _process_one_batch(size: int) -> ProcessResult | None:
    with transaction.atomic():
        if settings.IS_POSTGRES:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return None  # another processor is at work; it will drain what we would have
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True)
            .order_by("id")[:size]
        )
        if not events:
            return None
        result = _resolve(events)
        event_ids = [e.pk for e in events]
        profile_ids = sorted(result.profile_ids)
        transaction.on_commit(
            lambda: signals.events_processed.send(sender=Event, event_ids=event_ids, profile_ids=profile_ids)
        )
        return result


def _resolve(events: list[Event]) -> ProcessResult:
    result = ProcessResult(events=len(events))
    keys_of: list[list[Key]] = [event_keys(e) for e in events]
    all_values = {k[2] for keys in keys_of for k in keys} | {e.previous_id for e in events if e.previous_id}
    key_profile: dict[Key, int] = {}
    for kind, ns, value, pid in Identity.objects.filter(value__in=all_values).values_list(
        "kind", "namespace", "value", "profile_id"
    ):
        key_profile[(kind, ns, value)] = pid
    profile_user_ids: dict[int, set[str]] = defaultdict(set)
    for pid, value in Identity.objects.filter(
        profile_id__in=set(key_profile.values()), kind=IdentityKind.USER_ID
    ).values_list("profile_id", "value"):
        profile_user_ids[pid].add(value)

    comps = _Components()

    def node_for(key: Key) -> Node:
        comps.add(key, {key[2]} if key[0] == IdentityKind.USER_ID else set())
        pid = key_profile.get(key)
        if pid is not None:
            pnode = ("profile", pid)
            comps.add(pnode, profile_user_ids.get(pid, set()))
            comps.union(key, pnode)  # a key always belongs to its profile
        return key

    primary: list[Node | None] = []
    conflicts: list[tuple[int, Key, Key]] = []  # (event index, anchor key, refused key)
    for index, (event, keys) in enumerate(zip(events, keys_of, strict=True)):
        if event.type == EventType.ALIAS:
            keys = keys + [_alias_previous_key(event.previous_id, key_profile)]
        if not keys:
            primary.append(None)
            continue
        anchor = node_for(keys[0])  # userId first when present: the strongest claim
        for key in keys[1:]:
            if not comps.union(anchor, node_for(key)):
                conflicts.append((index, keys[0], key))
        primary.append(anchor)

    # One profile per component: the existing one, the oldest of several (merging the rest), or new.
    comp_profiles: dict[Node, list[int]] = defaultdict(list)
    for node in comps.parent:
        if node[0] == "profile":
            comp_profiles[comps.find(node)].append(node[1])
    roots = {comps.find(n) for n in comps.parent}
    needs_new = sorted(r for r in roots if not comp_profiles.get(r))
    now = timezone.now()
    created = Profile.objects.bulk_create([Profile() for _ in needs_new])
    result.new_profiles = len(created)
    root_profile: dict[Node, int] = {r: p.pk for r, p in zip(needs_new, created, strict=True)}
    merges: list[tuple[int, int]] = []
    for root, pids in comp_profiles.items():
        pids = sorted(pids)
        root_profile[root] = pids[0]
        merges.extend((pids[0], other) for other in pids[1:])

    profiles = Profile.objects.in_bulk(set(root_profile.values()))
    for survivor_id, merged_id in merges:
        merged = Profile.objects.filter(pk=merged_id).first()
        if merged is not None:
            profile_merge(
                survivor=profiles[survivor_id], merged=merged, reason="identity keys joined by an event"
            )
            result.merges += 1

    new_identities = [
        Identity(profile_id=root_profile[comps.find(node)], kind=node[0], namespace=node[1], value=node[2])
        for node in comps.parent
        if node[0] != "profile" and node not in key_profile
    ]
    Identity.objects.bulk_create(new_identities, ignore_conflicts=True)
    _contact_points_add(new_identities)

    for index, anchor, refused in conflicts:
        pid = root_profile[comps.find(anchor)]
        other = root_profile[comps.find(refused)]
        IdentityConflict.objects.create(
            profile_id=pid,
            other_profile_id=other if other != pid else None,
            kind=refused[0],
            value=refused[2],
            event=events[index],
            detail=(
                f"event {events[index].message_id} ties {anchor[0]}={anchor[2]} to {refused[0]}={refused[2]}, "
                "which belongs to a profile with another user id; not merged"
            ),
        )
    result.conflicts = len(conflicts)

    # Assign events, then apply traits and last-seen per profile in event-time order.
    assignments: list[tuple[int, int | None]] = []
    latest: dict[int, Event] = {}
    earliest: dict[int, Event] = {}
    for event, anchor in zip(events, primary, strict=True):
        pid = root_profile[comps.find(anchor)] if anchor is not None else None
        event.profile_id = pid
        assignments.append((event.pk, pid))
        if pid is not None:
            result.profile_ids.add(pid)
            if pid not in latest or event.timestamp >= latest[pid].timestamp:
                latest[pid] = event
            if pid not in earliest or event.timestamp < earliest[pid].timestamp:
                earliest[pid] = event
    _events_assign(assignments, now)
    _profiles_update(events, latest, earliest, profiles | {p.pk: p for p in created})
    return result


def _alias_previous_key(previous_id: str, key_profile: dict[Key, int]) -> Key:
    as_user = (IdentityKind.USER_ID.value, "", previous_id)
    if as_user in key_profile:
        return as_user
    return (IdentityKind.ANONYMOUS_ID.value, "", previous_id)


def _contact_points_add(identities: list[Identity]) -> None:
    points = []
    for identity in identities:
        if identity.kind == IdentityKind.EMAIL:
            points.append(
                ContactPoint(profile_id=identity.profile_id, channel=Channel.EMAIL, address=identity.value)
            )
        elif identity.kind == IdentityKind.PHONE:
            for channel in (Channel.SMS, Channel.WHATSAPP):
                points.append(
                    ContactPoint(profile_id=identity.profile_id, channel=channel, address=identity.value)
                )
    ContactPoint.objects.bulk_create(points, ignore_conflicts=True)


def _events_assign(assignments: list[tuple[int, int | None]], now: Any) -> None:
    if settings.IS_POSTGRES:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tracking_event AS e SET profile_id = v.pid, processed_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, pid) WHERE e.id = v.id",
                [now, [a[0] for a in assignments], [a[1] for a in assignments]],
            )
        return
    rows = [Event(pk=event_id, profile_id=pid, processed_at=now) for event_id, pid in assignments]
    Event.objects.bulk_update(rows, ["profile_id", "processed_at"], batch_size=500)


def _profiles_update(
    events: list[Event], latest: dict[int, Event], earliest: dict[int, Event], profiles: dict[int, Profile]
) -> None:
    changed: dict[int, Profile] = {}
    for event in sorted(events, key=lambda e: (e.timestamp, e.pk)):
        if event.profile_id is None or event.type != EventType.IDENTIFY or not event.traits:
            continue
        profile = profiles[event.profile_id]
        if traits_merge(profile.traits, profile.trait_updated_at, event.traits, event.timestamp.isoformat()):
            changed[profile.pk] = profile
    for pid, event in latest.items():
        profile = profiles[pid]
        if profile.last_seen_at is None or event.timestamp > profile.last_seen_at:
            profile.last_seen_at = event.timestamp
            changed[pid] = profile
        first = earliest[pid].timestamp
        if profile.first_seen_at is None or first < profile.first_seen_at:
            profile.first_seen_at = first
            changed[pid] = profile
        context_traits = event_traits(event)
        for field_name, value in locality_from({**context_traits, **profile.traits}, event.context).items():
            if getattr(profile, field_name) != value:
                setattr(profile, field_name, value)
                changed[pid] = profile
    if changed:
        Profile.objects.bulk_update(
            list(changed.values()),
            ["traits", "trait_updated_at", "last_seen_at", "first_seen_at", "timezone", "locale", "country"],
            batch_size=500,
        )
