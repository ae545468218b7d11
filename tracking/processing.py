"""Identity resolution: pending events are tied to profiles, in batches, one processor at a time.

Per batch: collect every identity key the events carry, look them all up at once, join keys that
arrive together (union-find) unless that would put two different user ids on one profile (then the
conflict is recorded and nothing merges), create the profiles that are missing, merge profiles an
event proved to be one person, and apply identify traits newest-wins. Processing order is the
events' arrival order, so the outcome is deterministic.

One processor at a time (a PostgreSQL advisory lock) keeps profile creation free of races; the
batch work is a handful of set-based queries, so one processor keeps up with ingestion. A processor
that finds the lock taken leaves; the holder looks for new events once more after releasing it, so
nothing committed meanwhile waits for the next periodic sweep.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from core.bulk import json_text
from core.setaside import rows_handle
from tracking import signals
from tracking.identity_keys import Key, event_keys
from tracking.locality import (
    LOCALITY_FIELDS,
    locality_from_context,
    locality_from_traits,
    locality_latest_from_contexts,
)
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
from tracking.services.profiles import profile_merge, trait_time, traits_merge

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
    changed_profile_ids: set[int] = field(default_factory=set)  # traits changed or merged


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

    def union(self, a: Node, b: Node, *, force: bool = False) -> bool:
        """Join two components; refuse (False) when that would bring a new user id to either side.

        `force` is for alias, which says explicitly that two user ids are one person.
        """
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ua, ub = self.user_ids[ra], self.user_ids[rb]
        if not force and ua and ub and not (ua <= ub or ub <= ua):
            return False
        # The smaller node becomes the root, so the result does not depend on hash order.
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.user_ids[ra] = ua | ub
        return True


_BUSY = "busy"  # another processor holds the lock
WAKE_KEY = "tracking:process-wake"
SET_ASIDE_QUEUE = "events"  # registered in tracking.apps


def events_process_wake() -> None:
    """Ask a worker to resolve newly stored events (called on commit of each ingest).

    At 100 requests a second one queued wake-up is enough: the key stays set from enqueue until the
    task starts (`events_process_wake_reset`), so later requests' events are covered by it. If the
    cache or the broker is unreachable the events are safe in the database already; the periodic
    sweep (`tracking.events_process` on the beat) picks them up, so the failure is only logged.
    """
    from tracking.tasks import events_process_task

    try:
        if not cache.add(WAKE_KEY, 1, timeout=settings.TRACKING_WAKE_TIMEOUT_SECONDS):
            return
        events_process_task.apply_async(retry=False)
    except Exception:
        logger.warning("could not wake the event processor; the periodic sweep will", exc_info=True)
        with suppress(Exception):
            cache.delete(WAKE_KEY)


def events_process_wake_reset() -> None:
    """A processor is starting: wake-ups from now on need a task of their own."""
    try:
        cache.delete(WAKE_KEY)
    except Exception:
        logger.warning("could not reset the processor wake-up key", exc_info=True)


def events_process_pending(*, max_batches: int | None = None) -> ProcessResult:
    """Resolve pending events until none are left (or max_batches ran). Safe to call concurrently."""
    total = ProcessResult()
    batches = 0
    idle_rechecks = 0
    while max_batches is None or batches < max_batches:
        result = _process_one_batch(settings.TRACKING_PROCESS_BATCH_SIZE)
        if result == _BUSY:
            break  # the holder looks again after it releases the lock
        if result is None:
            # Events committed while we held the lock found it busy and left them to us: look once
            # more now that it is released. Twice idle in a row means what is left is not ours.
            idle_rechecks += 1
            pending = Event.objects.filter(processed_at__isnull=True, set_aside_at__isnull=True)
            if idle_rechecks > 1 or not pending.exists():
                break
            continue
        assert isinstance(result, ProcessResult)
        idle_rechecks = 0
        batches += 1
        total.events += result.events
        total.new_profiles += result.new_profiles
        total.merges += result.merges
        total.conflicts += result.conflicts
        total.profile_ids |= result.profile_ids
    return total


def _process_one_batch(size: int) -> ProcessResult | str | None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return _BUSY
        ids = _pending_claim(size)
        if not ids:
            return None
        # An event that cannot be resolved on its own (one PostgreSQL stored and Python cannot read
        # back, say) is set aside with its error; the others are resolved, in arrival order.
        parts = rows_handle(queue=SET_ASIDE_QUEUE, items=ids, handle=_resolve_ids)
        result = ProcessResult()
        event_ids: list[int] = []
        for part, part_ids in parts:
            event_ids += part_ids
            result.events += part.events
            result.new_profiles += part.new_profiles
            result.merges += part.merges
            result.conflicts += part.conflicts
            result.profile_ids |= part.profile_ids
            result.changed_profile_ids |= part.changed_profile_ids
        if not event_ids:
            return result
        profile_ids = sorted(result.profile_ids)
        changed_ids = sorted(result.changed_profile_ids)
        # robust: the batch is committed; a failing subscriber upstairs must not stop the processor.
        transaction.on_commit(
            lambda: signals.events_processed.send(sender=Event, event_ids=event_ids, profile_ids=profile_ids),
            robust=True,
        )
        if changed_ids:
            transaction.on_commit(
                lambda: signals.profile_changed.send(sender=Profile, profile_ids=changed_ids), robust=True
            )
        return result


def _resolve_ids(ids: list[int]) -> tuple[ProcessResult, list[int]]:
    return _resolve(_pending_load(ids)), ids


@dataclass(slots=True)
class PendingEvent:
    """What resolution needs of an event (not its properties): lighter than a model instance."""

    pk: int
    message_id: str
    type: str
    user_id: str
    anonymous_id: str
    previous_id: str
    traits: dict[str, Any]
    context: dict[str, Any]
    timestamp: datetime
    profile_id: int | None = None


def _pending_claim(size: int) -> list[int]:
    """The ids of the oldest pending events, locked for this transaction (ids only: a row whose
    values cannot be read must still be claimable, so it can be set aside)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM tracking_event WHERE processed_at IS NULL AND set_aside_at IS NULL "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            [size],
        )
        return [row[0] for row in cursor.fetchall()]


def _pending_load(ids: list[int]) -> list[PendingEvent]:
    """What resolution needs of the claimed events, in arrival order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, message_id, type, user_id, anonymous_id, previous_id, traits::text, context::text, "
            "timestamp FROM tracking_event WHERE id = ANY(%s::bigint[]) ORDER BY id",
            [_int_array(ids)],
        )
        loads = orjson.loads
        return [
            PendingEvent(pk, mid, typ, uid, aid, prev, loads(traits), loads(context), ts)
            for pk, mid, typ, uid, aid, prev, traits, context, ts in cursor.fetchall()
        ]


def _resolve(events: list[PendingEvent]) -> ProcessResult:
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
            comps.union(key, pnode, force=True)  # a key always belongs to its profile
        return key

    primary: list[Node | None] = []
    conflicts: list[tuple[int, Key, Key]] = []  # (event index, anchor key, refused key)
    for index, (event, keys) in enumerate(zip(events, keys_of, strict=True)):
        if not keys:
            primary.append(None)
            continue
        anchor = node_for(keys[0])  # userId first when present: the strongest claim
        for key in keys[1:]:
            if not comps.union(anchor, node_for(key)):
                conflicts.append((index, keys[0], key))
        if event.type == EventType.ALIAS and event.previous_id:
            # alias is the one explicit statement that two ids are one person, user ids included.
            for key in _alias_previous_keys(event.previous_id, key_profile, comps.parent):
                comps.union(anchor, node_for(key), force=True)
        primary.append(anchor)

    # One profile per component: the existing one, the oldest of several (merging the rest), or new.
    comp_profiles: dict[Node, list[int]] = defaultdict(list)
    for node in comps.parent:
        if node[0] == "profile":
            comp_profiles[comps.find(node)].append(node[1])
    roots = {comps.find(n) for n in comps.parent}
    needs_new = sorted(r for r in roots if not comp_profiles.get(r))
    now = timezone.now()
    created = _profiles_create(len(needs_new), now)
    result.new_profiles = len(created)
    root_profile: dict[Node, int] = {r: p.pk for r, p in zip(needs_new, created, strict=True)}
    merges: list[tuple[int, int]] = []
    for root, pids in comp_profiles.items():
        pids = sorted(pids)
        root_profile[root] = pids[0]
        merges.extend((pids[0], other) for other in pids[1:])

    profiles = Profile.objects.in_bulk(set(root_profile.values()) - {p.pk for p in created})
    profiles.update({p.pk: p for p in created})
    for survivor_id, merged_id in merges:
        merged = Profile.objects.filter(pk=merged_id).first()
        if merged is not None:
            profile_merge(
                survivor=profiles[survivor_id], merged=merged, reason="identity keys joined by an event"
            )
            result.merges += 1
            result.changed_profile_ids.add(survivor_id)

    new_identities = [
        Identity(profile_id=root_profile[comps.find(node)], kind=node[0], namespace=node[1], value=node[2])
        for node in comps.parent
        if node[0] != "profile" and node not in key_profile
    ]
    _identities_add(new_identities, now)
    _contact_points_add(new_identities)

    for index, anchor, refused in conflicts:
        pid = root_profile[comps.find(anchor)]
        other = root_profile[comps.find(refused)]
        IdentityConflict.objects.create(
            profile_id=pid,
            other_profile_id=other if other != pid else None,
            kind=refused[0],
            value=refused[2],
            event_id=events[index].pk,
            detail=(
                f"event {events[index].message_id} ties {anchor[0]}={anchor[2]} to {refused[0]}={refused[2]}, "
                "which belongs to a profile with another user id; not merged"
            ),
        )
    result.conflicts = len(conflicts)

    assignments: list[tuple[int, int | None]] = []
    for event, anchor in zip(events, primary, strict=True):
        pid = root_profile[comps.find(anchor)] if anchor is not None else None
        event.profile_id = pid
        assignments.append((event.pk, pid))
        if pid is not None:
            result.profile_ids.add(pid)
    _events_assign(assignments, now)
    result.changed_profile_ids |= _profiles_update(events, profiles, now)
    return result


def _alias_previous_keys(previous_id: str, key_profile: dict[Key, int], seen: dict[Node, Node]) -> list[Key]:
    """previousId is a user id or an anonymous id; whichever is already known (in the database or
    earlier in this batch, so batch boundaries do not change the outcome), else an anonymous id."""
    candidates = [
        (IdentityKind.USER_ID.value, "", previous_id),
        (IdentityKind.ANONYMOUS_ID.value, "", previous_id),
    ]
    known = [key for key in candidates if key in key_profile or key in seen]
    return known or [candidates[1]]


def _contact_points_add(identities: list[Identity]) -> None:
    """Emails and phones become contact points; the first address on a channel is the primary one."""
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
    if not points:
        return
    has_primary = set(
        ContactPoint.objects.filter(
            profile_id__in={p.profile_id for p in points}, is_primary=True
        ).values_list("profile_id", "channel")
    )
    for point in points:
        point.is_primary = (point.profile_id, point.channel) not in has_primary
        has_primary.add((point.profile_id, point.channel))
    rows = [
        {"p": c.profile_id, "c": c.channel, "a": c.address, "pr": c.is_primary, "t": timezone.now()}
        for c in points
    ]
    _execute_json(
        "INSERT INTO tracking_contactpoint (profile_id, channel, address, is_primary, active, created_at) "
        "SELECT p, c, a, pr, true, t FROM json_to_recordset(%s::json) AS r(p bigint, c text, a text, pr boolean, "
        "t timestamptz) ON CONFLICT DO NOTHING",
        rows,
    )


def _profiles_create(count: int, now: datetime) -> list[Profile]:
    """`count` empty profiles, in id order."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tracking_profile (created_at, updated_at, traits, trait_updated_at, tags, timezone, "
            "locale, country) SELECT %s, %s, '{}', '{}', '[]', '', '', '' FROM generate_series(1, %s) RETURNING id",
            [now, now, count],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    return [
        Profile(pk=pid, created_at=now, updated_at=now, traits={}, trait_updated_at={}, tags=[])
        for pid in ids
    ]


def _identities_add(identities: list[Identity], now: datetime) -> None:
    if not identities:
        return
    rows = [{"p": i.profile_id, "k": i.kind, "n": i.namespace, "v": i.value} for i in identities]
    _execute_json(
        "INSERT INTO tracking_identity (profile_id, kind, namespace, value, created_at) "
        "SELECT p, k, n, v, %s FROM json_to_recordset(%s::json) AS r(p bigint, k text, n text, v text) "
        "ON CONFLICT DO NOTHING",
        rows,
        before=[now],
    )


def _execute_json(sql: str, rows: list[dict[str, Any]], *, before: list[Any] | None = None) -> None:
    """Run `sql` with the rows as one JSON document: no per-value quoting on the client side."""
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(before or []), json_text(rows)])


def _events_assign(assignments: list[tuple[int, int | None]], now: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tracking_event AS e SET profile_id = v.pid, processed_at = %s "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, pid) WHERE e.id = v.id",
            [now, _int_array(a[0] for a in assignments), _int_array(a[1] for a in assignments)],
        )


def _profiles_update(events: list[Event], profiles: dict[int, Profile], now: Any) -> set[int]:
    """Traits newest-wins, first/last seen, and locality for every profile the batch touched.

    Returns the ids of profiles whose traits changed.
    """
    touched = {e.profile_id for e in events if e.profile_id is not None}
    seen_before = {pid: profiles[pid].last_seen_at for pid in touched}
    changed: set[int] = set()
    traits_changed: set[int] = set()
    newest_context: dict[int, dict[str, tuple[Any, str]]] = defaultdict(dict)
    for event in sorted(events, key=lambda e: (e.timestamp, e.pk)):
        if event.profile_id is None:
            continue
        profile = profiles[event.profile_id]
        is_identify = event.type == EventType.IDENTIFY and isinstance(event.traits, dict)
        at = trait_time(event.timestamp)
        if is_identify and traits_merge(profile.traits, profile.trait_updated_at, event.traits, at):
            traits_changed.add(profile.pk)
        for field_name, value in locality_from_context(event.context).items():
            newest_context[profile.pk][field_name] = (event.timestamp, value)
        if profile.last_seen_at is None or event.timestamp > profile.last_seen_at:
            profile.last_seen_at = event.timestamp
            changed.add(profile.pk)
        if profile.first_seen_at is None or event.timestamp < profile.first_seen_at:
            profile.first_seen_at = event.timestamp
            changed.add(profile.pk)

    # A late event (an offline device, a historical import) may be older than what the profile
    # already has; for those profiles the stored events from that time on decide, read in one query.
    late_since: dict[int, Any] = {}
    for pid in touched:
        before = seen_before[pid]
        times = [at for at, _ in newest_context.get(pid, {}).values()]
        if before is not None and times and min(times) < before:
            late_since[pid] = min(times)
    late_locality = _context_locality_since(late_since)
    for pid in touched:
        profile = profiles[pid]
        if pid in late_since:
            context_locality = late_locality.get(pid, {})
        else:
            context_locality = {name: value for name, (_, value) in newest_context.get(pid, {}).items()}
        trait_locality = locality_from_traits(profile.traits)
        for field_name in LOCALITY_FIELDS:
            value = trait_locality.get(field_name) or context_locality.get(field_name)
            if value and getattr(profile, field_name) != value:
                setattr(profile, field_name, value)
                changed.add(pid)
    changed |= traits_changed
    if changed:
        _profiles_save([profiles[pid] for pid in sorted(changed)], now)
    return traits_changed


def _context_locality_since(since: dict[int, Any]) -> dict[int, dict[str, str]]:
    """Per profile, the locality its events from `since` on say, newest event first per field."""
    if not since:
        return {}
    contexts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.profile_id, e.context FROM tracking_event AS e "
            "JOIN unnest(%s::bigint[], %s::timestamptz[]) AS v(pid, since) "
            "ON e.profile_id = v.pid AND e.timestamp >= v.since "
            "ORDER BY e.profile_id, e.timestamp DESC, e.id DESC",
            [_int_array(since), "{" + ",".join(f'"{at.isoformat()}"' for at in since.values()) + "}"],
        )
        for pid, context in cursor.fetchall():
            contexts[pid].append(orjson.loads(context) if isinstance(context, str | bytes) else context)
    return {pid: locality_latest_from_contexts(items) for pid, items in contexts.items()}


def _profiles_save(rows: list[Profile], now: Any) -> None:
    # One UPDATE from a JSON document instead of Django's CASE chain per column.
    rows_json = [
        {
            "id": r.pk,
            "tr": r.traits,
            "tu": r.trait_updated_at,
            "ls": r.last_seen_at,
            "fs": r.first_seen_at,
            "tz": r.timezone,
            "loc": r.locale,
            "cc": r.country,
        }
        for r in rows
    ]
    _execute_json(
        "UPDATE tracking_profile AS p SET traits = v.tr, trait_updated_at = v.tu, last_seen_at = v.ls, "
        "first_seen_at = v.fs, timezone = v.tz, locale = v.loc, country = v.cc, updated_at = %s "
        "FROM json_to_recordset(%s::json) AS v(id bigint, tr jsonb, tu jsonb, ls timestamptz, fs timestamptz, "
        "tz text, loc text, cc text) WHERE p.id = v.id",
        rows_json,
        before=[now],
    )


def _int_array(values: Any) -> str:
    """A PostgreSQL array literal: built here in one join, not quoted value by value by the driver."""
    return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"
