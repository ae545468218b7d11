"""Keeping the rollups up to date: a short fold of the rows added since the last one, and a rebuild.

The fold reads each source table by id after its cursor (set-based SQL, one transaction, cursors
locked so two folds never overlap). Ids it passed but could not see yet (a transaction still
running) are kept as gaps and read again until they show up or expire. So a row is folded exactly
once, and a fold that dies leaves nothing half done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.setaside import rows_handle
from journeys.reports import facts
from journeys.reports.facts import SOURCES, Window
from journeys.reports.models import (
    DIMENSIONS,
    METRICS,
    ConversionFact,
    HourlyRollup,
    MessageCost,
    MessageFirst,
    PendingProfile,
    RollupCursor,
)

SOURCE_TABLES = {
    "message": "channels.Message",
    "event": "channels.MessageEvent",
    "run": "journeys.Run",
    "step": "journeys.RunStep",
    "recipient": "journeys.BroadcastRecipient",
}
GAP_SECONDS = 600  # a transaction open longer than this is not waited for (the rebuild catches it)
PENDING_SECONDS = 900  # how long a profile's fresh events are watched for journey goals
SET_ASIDE_QUEUE = "report_folds"  # registered in journeys.health


def jit_off() -> None:
    """These statements are wide (dozens of sums over unions) and cheap to run: PostgreSQL's JIT
    would spend seconds compiling them, so it is off for the transaction."""
    with connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")


def batch_size() -> int:
    return int(getattr(settings, "REPORTS_FOLD_BATCH", 50_000))


@dataclass
class FoldStats:
    rows: int = 0
    gaps_open: int = 0
    conversions: int = 0
    more: bool = False


def _rollup_upsert(select_sql: str, params: dict, *, cte: str = "") -> int:
    rollup = facts.table("reports.HourlyRollup")
    keys = ", ".join([*DIMENSIONS, "hour", "local_hour"])
    sums = ", ".join(f"SUM({m})" for m in METRICS)
    updates = ", ".join(f"{m} = {rollup}.{m} + EXCLUDED.{m}" for m in METRICS)
    nonzero = " OR ".join(f"SUM({m}) <> 0" for m in METRICS)
    sql = (
        f"{cte} INSERT INTO {rollup} ({keys}, {', '.join(METRICS)}) "
        f"SELECT {keys}, {sums} FROM ({select_sql}) d GROUP BY {keys} HAVING {nonzero} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount


def deltas_sql(w: Window, p: dict, campaign: tuple[str, int] | None, *, cost_state: bool) -> str:
    """Every id-source delta of a window as one UNION ALL (conversions are separate)."""
    state = facts.table("reports.MessageCost") if cost_state else ""
    parts = [
        facts.messages_sql(w, p, campaign),
        facts.events_sql(w, p, campaign),
        facts.costs_sql(w, p, campaign, state=state),
        facts.runs_sql(w, p, campaign),
        facts.recipients_sql(w, p, campaign),
    ]
    return " UNION ALL ".join(x for x in parts if x)


def _cost_state_refresh(w: Window, p: dict, campaign: tuple[str, int] | None) -> None:
    """The folded price per message becomes the price now, for the messages this window touched."""
    messages, events = facts.table("channels.Message"), facts.table("channels.MessageEvent")
    state, profiles = facts.table("reports.MessageCost"), facts.table("tracking.Profile")
    if w.mode == "rebuild":
        touched = (
            f"SELECT m.id FROM {messages} m WHERE m.cost IS NOT NULL AND {facts._campaign_filter('m', p, campaign)}"
            f" AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.message_id = m.id AND NOT {w.b('event', 'e.id', p)})"
        )
    else:
        touched = f"SELECT DISTINCT e.message_id FROM {events} e WHERE {w.b('event', 'e.id', p)}"
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS reports_touched (id bigint PRIMARY KEY) ON COMMIT DROP")
        cur.execute("TRUNCATE reports_touched")
        cur.execute(f"INSERT INTO reports_touched {touched} ON CONFLICT DO NOTHING", p)
        cur.execute(f"DELETE FROM {state} WHERE message_id IN (SELECT id FROM reports_touched)")
        cur.execute(
            f"INSERT INTO {state} (message_id, amount, {', '.join(DIMENSIONS)}, hour, local_hour) "
            f"SELECT m.id, abs(m.cost), {facts.COST_DIMS}, {facts.hour_sql('m.sent_at')}, "
            f"{facts.local_hour_sql('m.sent_at')} FROM {messages} m JOIN {profiles} p ON p.id = m.profile_id "
            f"WHERE m.id IN (SELECT id FROM reports_touched) AND m.cost IS NOT NULL AND m.sent_at IS NOT NULL "
            f"AND {facts._campaign_filter('m', p, campaign)}",
            p,
        )


def _firsts_refresh(w: Window, p: dict, campaign: tuple[str, int] | None) -> None:
    """MessageFirst takes the first open/click ids of the rows this window folded."""
    events, messages = facts.table("channels.MessageEvent"), facts.table("channels.Message")
    state = facts.table("reports.MessageFirst")
    p["open_kinds"] = list(facts.OPEN_KINDS)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {state} (message_id, first_open_id, first_click_id) "
            "SELECT e.message_id, min(e.id) FILTER (WHERE e.kind = ANY(%(open_kinds)s)), "
            "min(e.id) FILTER (WHERE e.kind = 'clicked') "
            f"FROM {events} e JOIN {messages} m ON m.id = e.message_id "
            f"WHERE {w.b('event', 'e.id', p)} AND e.kind = ANY(%(open_kinds)s) "
            f"AND {facts._campaign_filter('m', p, campaign)} "
            "GROUP BY e.message_id ON CONFLICT (message_id) DO UPDATE SET "
            f"first_open_id = LEAST({state}.first_open_id, EXCLUDED.first_open_id), "
            f"first_click_id = LEAST({state}.first_click_id, EXCLUDED.first_click_id)",
            p,
        )


def _conversions_fold(w: Window, campaign: tuple[str, int] | None) -> int:
    p = facts.zone_params({})
    cf = facts.table("reports.ConversionFact")
    candidates = facts.conversions_candidates_sql(w, p, campaign)
    cte = (
        f"WITH cand AS ({candidates}), "
        f"ins AS (INSERT INTO {cf} (source, source_id, campaign_kind, campaign_id, converted_at, revenue, currency, holdout) "
        "SELECT source, source_id, campaign_kind, campaign_id, converted_at, revenue, currency, holdout FROM cand "
        "ON CONFLICT DO NOTHING RETURNING source, source_id), "
        "conv AS (SELECT cand.* FROM cand JOIN ins ON ins.source = cand.source AND ins.source_id = cand.source_id), "
        + facts.conversions_sql(p, "conv")
    )
    return _rollup_upsert("SELECT * FROM credited", p, cte=cte)


def _cursors_locked() -> dict[str, RollupCursor]:
    for source in SOURCES:
        RollupCursor.objects.get_or_create(source=source)
    return {c.source: c for c in RollupCursor.objects.select_for_update().filter(source__in=SOURCES)}


def _ids(sql: str, params: list) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [r[0] for r in cur.fetchall()]


def _gaps_after(
    *, cursor: RollupCursor, fetched: list[int], found: set[int], now: float
) -> list[list[float]]:
    """Open gaps once this fold has read `fetched` (ids after the cursor) and `found` (ids in gaps)."""
    gaps: list[list[float]] = []
    for lo, hi, seen in cursor.gaps:
        if now - seen > GAP_SECONDS:
            continue
        start = int(lo)
        for i in sorted(x for x in found if lo <= x <= hi):
            if i > start:
                gaps.append([start, i - 1, seen])
            start = i + 1
        if start <= hi:
            gaps.append([start, int(hi), seen])
    previous = cursor.position
    for i in fetched:
        if i > previous + 1:
            gaps.append([previous + 1, i - 1, now])
        previous = i
    return gaps[-500:]  # bounded: a flood of gaps is a rollback storm, not rows to wait for


@transaction.atomic
def rollups_fold(*, limit: int | None = None) -> FoldStats:
    """Fold up to `limit` new rows per source into the rollups. Returns what it did."""
    limit = limit or batch_size()
    stats = FoldStats()
    jit_off()
    cursors = _cursors_locked()
    now = time.time()
    w = Window(mode="fold")
    fetched: dict[str, list[int]] = {}
    found: dict[str, set[int]] = {}
    for source, cursor in cursors.items():
        tbl = facts.table(SOURCE_TABLES[source])
        w.cursors[source] = cursor.position
        w.gaps[source] = [(int(lo), int(hi)) for lo, hi, _ in cursor.gaps]
        fetched[source] = _ids(
            f"SELECT id FROM {tbl} WHERE id > %s ORDER BY id LIMIT %s", [cursor.position, limit]
        )
        stats.more = stats.more or len(fetched[source]) >= limit
        found[source] = set()
        if w.gaps[source]:
            p: dict = {}
            found[source] = set(_ids(f"SELECT id FROM {tbl} WHERE {w._gap_sql(source, 'id', p)}", []))
        w.batch[source] = fetched[source] + sorted(found[source])
        stats.rows += len(w.batch[source])
    w.pending_profiles = list(PendingProfile.objects.values_list("profile_id", flat=True))
    # A row (or a profile's conversions) that cannot be folded on its own is set aside
    # (core.setaside): the cursor passes it, the rest is folded; Retry puts it back as a gap.
    if stats.rows:
        rows_handle(
            queue=SET_ASIDE_QUEUE,
            items=[(source, i) for source in SOURCES for i in w.batch[source]],
            handle=lambda part: _rows_fold(w, part),
            ref=lambda item: (SOURCE_TABLES[item[0]], item[1]),
        )
    if w.pending_profiles:
        stats.conversions = sum(
            rows_handle(
                queue=SET_ASIDE_QUEUE,
                items=w.pending_profiles,
                handle=lambda part: _conversions_fold(replace(w, pending_profiles=part), None),
                ref=lambda pid: (PENDING_PROFILE, pid),
            )
        )
    for source, cursor in cursors.items():
        cursor.gaps = _gaps_after(cursor=cursor, fetched=fetched[source], found=found[source], now=now)
        if fetched[source]:
            cursor.position = fetched[source][-1]
        stats.gaps_open += len(cursor.gaps)
        cursor.save()
    PendingProfile.objects.filter(at__lt=timezone.now() - timedelta(seconds=PENDING_SECONDS)).delete()
    return stats


def _rows_fold(w: Window, items: list[tuple[str, int]]) -> None:
    """Fold these (source, id) rows of the batch: the figures, the price and first-open state.
    Parts of a batch folded one after the other add up to the batch folded at once (each part reads
    the state the previous one left)."""
    part = replace(w, batch={source: [i for s, i in items if s == source] for source in SOURCES})
    p = facts.zone_params({})
    _rollup_upsert(deltas_sql(part, p, None, cost_state=True), p)
    _cost_state_refresh(part, facts.zone_params({}), None)
    _firsts_refresh(part, {}, None)


PENDING_PROFILE = "reports.PendingProfile"


def fold_rows_set_aside(*, label: str, ids: list[int]) -> None:
    """Take set-aside rows out of the fold: source rows need nothing (the cursor passes them in the
    same transaction); a profile's pending conversions stop being looked at."""
    if label == PENDING_PROFILE:
        PendingProfile.objects.filter(profile_id__in=ids).delete()


def fold_rows_release(*, label: str, ids: list[int]) -> None:
    """Fold these rows again: source rows become gaps the next fold reads; profiles become pending."""
    if label == PENDING_PROFILE:
        profiles_mark_pending(profile_ids=ids)
        return
    source = {model: s for s, model in SOURCE_TABLES.items()}[label]
    with transaction.atomic():
        RollupCursor.objects.get_or_create(source=source)
        cursor = RollupCursor.objects.select_for_update().get(source=source)
        now = time.time()
        # Rows after the cursor are read anyway; a gap is read until GAP_SECONDS have passed.
        cursor.gaps = [*cursor.gaps, *([i, i, now] for i in sorted(ids) if i <= cursor.position)]
        cursor.save()


def rollups_fold_until_idle(*, limit: int | None = None, max_passes: int = 1000) -> FoldStats:
    total = FoldStats()
    for _ in range(max_passes):
        stats = rollups_fold(limit=limit)
        total.rows += stats.rows
        total.conversions += stats.conversions
        total.gaps_open = stats.gaps_open
        if not stats.more:
            break
    return total


@transaction.atomic
def rollups_rebuild(
    *,
    campaign: tuple[str, int] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Recompute the rollups from raw rows: every campaign, or one. Rows after the cursors stay for
    the fold (and are read live by reports meanwhile). `progress(phase, done, total)` is called after
    each phase. Returns how many rollup rows the campaign(s) have now."""
    jit_off()
    cursors = _cursors_locked()
    if campaign is None:
        # Start from the newest rows: everything up to them is rebuilt now.
        for source, cursor in cursors.items():
            tbl = facts.table(SOURCE_TABLES[source])
            top = _ids(f"SELECT COALESCE(max(id), 0) FROM {tbl}", [])[0]
            recent = _ids(
                f"SELECT id FROM {tbl} WHERE id > %s ORDER BY id", [max(cursor.position, top - 10_000)]
            )
            probe = RollupCursor(source=source, position=max(cursor.position, top - 10_000), gaps=[])
            cursor.gaps = [g for g in cursor.gaps if g[1] <= probe.position] + _gaps_after(
                cursor=probe, fetched=recent, found=set(), now=time.time()
            )
            cursor.position = max(cursor.position, top)
            cursor.save()
        HourlyRollup.objects.all().delete()
        ConversionFact.objects.all().delete()
        MessageCost.objects.all().delete()
        MessageFirst.objects.all().delete()
    else:
        kind, cid = campaign
        HourlyRollup.objects.filter(campaign_kind=kind, campaign_id=cid).delete()
        ConversionFact.objects.filter(campaign_kind=kind, campaign_id=cid).delete()
        MessageCost.objects.filter(campaign_kind=kind, campaign_id=cid).delete()
        with connection.cursor() as cur:
            cur.execute(
                f"DELETE FROM {facts.table('reports.MessageFirst')} WHERE message_id IN (SELECT id FROM "
                f"{facts.table('channels.Message')} WHERE campaign_kind = %s AND campaign_id = %s)",
                [kind, cid],
            )
    w = Window(
        mode="rebuild",
        cursors={s: c.position for s, c in cursors.items()},
        gaps={s: [(int(lo), int(hi)) for lo, hi, _ in c.gaps] for s, c in cursors.items()},
    )
    phases = _rebuild_phases(w, campaign)
    for done, (name, step) in enumerate(phases, start=1):
        step()
        if progress is not None:
            progress(name, done, len(phases))
    rollups = HourlyRollup.objects.all()
    if campaign is not None:
        rollups = rollups.filter(campaign_kind=campaign[0], campaign_id=campaign[1])
    return rollups.count()


REBUILD_PHASES = (
    "messages",
    "message results",
    "provider prices",
    "journey runs and stage visits",
    "broadcast recipients",
    "price state",
    "first opens and clicks",
    "conversions",
)


def _rebuild_phases(w: Window, campaign: tuple[str, int] | None) -> list[tuple[str, Callable[[], object]]]:
    """The rebuild as named steps (for a progress bar): each source's sums are added on their own,
    which in rebuild mode (nothing folded before, every figure positive) gives the same rows as one
    statement over all of them."""

    def upsert(sql_of: Callable[[dict], str]) -> Callable[[], object]:
        def step() -> object:
            p = facts.zone_params({})
            sql = sql_of(p)
            return _rollup_upsert(sql, p) if sql else 0

        return step

    steps: list[Callable[[], object]] = [
        upsert(lambda p: facts.messages_sql(w, p, campaign)),
        upsert(lambda p: facts.events_sql(w, p, campaign)),
        upsert(lambda p: facts.costs_sql(w, p, campaign, state="")),
        upsert(lambda p: facts.runs_sql(w, p, campaign)),
        upsert(lambda p: facts.recipients_sql(w, p, campaign)),
        lambda: _cost_state_refresh(w, facts.zone_params({}), campaign),
        lambda: _firsts_refresh(w, {}, campaign),
        lambda: _conversions_fold(w, campaign),
    ]
    return list(zip(REBUILD_PHASES, steps, strict=True))


def profiles_mark_pending(*, profile_ids: list[int]) -> None:
    """Fresh events for these profiles: watch their runs and broadcast receipts for conversions."""
    if not profile_ids:
        return
    tbl = facts.table("reports.PendingProfile")
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {tbl} (profile_id, at) SELECT unnest(%s::bigint[]), now() "
            "ON CONFLICT (profile_id) DO UPDATE SET at = EXCLUDED.at",
            [sorted(set(profile_ids))],
        )
