"""Rollups for the search, slot and affinity pages: one row per UTC day and key, so a page reads a few
thousand rows instead of scanning every event of the range.

One "delta" statement per analysis (`search_delta_sql`, `slots_delta_sql`, `affinity_delta_sql`) turns
the events of a run of whole UTC days into rollup rows. The same statement
- folds days into the rollup tables (`rollup_fold`: delete the days' rows, insert the delta's), and
- stands in, live, for the days of a page's range that are not folded or are dirty (`rollup_source`),
so a page's figures equal a raw recompute at any moment (tests/test_analytics_rollups.py checks this
against the raw queries, which read events directly).

Fresh: tracking's `events_processed` signal marks the UTC days an event can change dirty (a search
also changes the day an hour before, when it cuts off an earlier search's follow-ups; a promotion click
also changes the next day's credited orders). The beat task `analytics.behaviour_rollups_fold` folds
dirty days (claimed with SKIP LOCKED; a day marked again while it was folded stays dirty). A profile
merge and a change to the event-name mapping mark the days they touch. `manage.py
behaviour_rollups_rebuild` folds everything from the first event on, with a progress bar.

Rollups hold the page defaults: UTC days, search follow-ups within 60 minutes, slot credit within 24
hours, same-order baskets. Other settings read raw events (the page says which it used).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from tracking.analytics.behaviour.affinity import (
    ITEM_COLUMNS,
    PAIR_COLUMNS_ROLLUP,
    affinity_delta_sql,
    repurchase_facts_refresh,
)
from tracking.analytics.behaviour.common import DateRange, spec_event_names
from tracking.analytics.behaviour.search import (
    ROLLUP_WINDOW_MINUTES,
    SEARCHCREDIT_COLUMNS,
    SEARCHDAY_COLUMNS,
    search_delta_sql,
)
from tracking.analytics.behaviour.slots import (
    ROLLUP_WINDOW_HOURS,
    SLOTCREDIT_COLUMNS,
    SLOTDAY_COLUMNS,
    slots_delta_sql,
)
from tracking.analytics.models import SpecEvent


@dataclass(frozen=True)
class RollupKind:
    name: str
    delta: Callable[..., dict[str, tuple[str, list[Any]]]]
    parts: tuple[tuple[str, str, str], ...]  # (delta part, table, columns)
    # (spec event, shift): an event at ts makes the UTC day of ts + shift dirty.
    marks: tuple[tuple[str, timedelta], ...]


SEARCH_SHIFT = -timedelta(minutes=ROLLUP_WINDOW_MINUTES)
KINDS: dict[str, RollupKind] = {
    "search": RollupKind(
        "search",
        search_delta_sql,
        (
            ("day", "analytics_searchday", SEARCHDAY_COLUMNS),
            ("credit", "analytics_searchcredit", SEARCHCREDIT_COLUMNS),
        ),
        tuple(
            (name, shift)
            for name in (
                SpecEvent.PRODUCTS_SEARCHED,
                SpecEvent.PRODUCT_CLICKED,
                SpecEvent.PRODUCT_ADDED,
                SpecEvent.ORDER_COMPLETED,
            )
            for shift in (timedelta(0), SEARCH_SHIFT)
        ),
    ),
    "slots": RollupKind(
        "slots",
        slots_delta_sql,
        (
            ("day", "analytics_slotday", SLOTDAY_COLUMNS),
            ("credit", "analytics_slotcredit", SLOTCREDIT_COLUMNS),
        ),
        (
            (SpecEvent.PROMOTION_VIEWED, timedelta(0)),
            (SpecEvent.PROMOTION_CLICKED, timedelta(0)),
            (SpecEvent.PROMOTION_CLICKED, timedelta(hours=ROLLUP_WINDOW_HOURS)),
            (SpecEvent.ORDER_COMPLETED, timedelta(0)),
        ),
    ),
    "affinity": RollupKind(
        "affinity",
        affinity_delta_sql,
        (
            ("item", "analytics_affinityitemday", ITEM_COLUMNS),
            ("pair", "analytics_affinitypairday", PAIR_COLUMNS_ROLLUP),
        ),
        ((SpecEvent.ORDER_COMPLETED, timedelta(0)),),
    ),
}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as contiguous (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# --- reading ---------------------------------------------------------------------------------------


def rollup_clean_days(*, kind: str, date_from: date, date_to: date) -> list[date]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT f.day FROM analytics_rollupday f WHERE f.kind = %s AND f.day BETWEEN %s AND %s "
            "AND NOT EXISTS (SELECT 1 FROM analytics_rollupdirty d WHERE d.kind = f.kind AND d.day = f.day)",
            [kind, date_from, date_to],
        )
        return [r[0] for r in cur.fetchall()]


def rollup_live_days(*, kind: str, rng: DateRange) -> list[date]:
    """The range's days a page computes live (never folded, or dirty since)."""
    clean = set(rollup_clean_days(kind=kind, date_from=rng.date_from, date_to=rng.date_to))
    n = (rng.date_to - rng.date_from).days + 1
    return [d for d in (rng.date_from + timedelta(days=i) for i in range(n)) if d not in clean]


def rollup_source(*, kind: str, table: str, columns: str, part: str, rng: DateRange) -> tuple[str, list[Any]]:
    """SQL yielding `columns` rows of `table` for the range: folded clean days from the table, the
    other days from the delta statement run live."""
    clean = rollup_clean_days(kind=kind, date_from=rng.date_from, date_to=rng.date_to)
    clean_set = set(clean)
    n = (rng.date_to - rng.date_from).days + 1
    live = [d for d in (rng.date_from + timedelta(days=i) for i in range(n)) if d not in clean_set]
    parts = [f"SELECT {columns} FROM {table} WHERE day = ANY(%s::date[])"]
    params: list[Any] = [clean]
    names = ", ".join(c.strip() for c in columns.split(","))
    for first, last in _runs(live):
        sql, p = KINDS[kind].delta(lo=_midnight(first), hi=_midnight(last + timedelta(days=1)))[part]
        parts.append(f"SELECT * FROM ({sql}) AS _live ({names})")
        params += p
    return " UNION ALL ".join(parts), params


# --- folding ---------------------------------------------------------------------------------------


def rollup_fold(*, kind: str, day_from: date, day_to: date, repurchase: bool = True) -> None:
    """Recompute the rollup rows of [day_from, day_to] and mark those days folded."""
    spec = KINDS[kind]
    lo, hi = _midnight(day_from), _midnight(day_to + timedelta(days=1))
    with transaction.atomic(), connection.cursor() as cur:
        for part, table, columns in spec.parts:
            sql, params = spec.delta(lo=lo, hi=hi)[part]
            cur.execute(f"DELETE FROM {table} WHERE day BETWEEN %s AND %s", [day_from, day_to])
            cur.execute(f"INSERT INTO {table} ({columns}) {sql}", params)
        if kind == "affinity" and repurchase:
            names = spec_event_names(SpecEvent.ORDER_COMPLETED)
            cur.execute(
                "SELECT DISTINCT profile_id FROM tracking_event WHERE profile_id IS NOT NULL AND name = ANY(%s) "
                "AND timestamp >= %s AND timestamp < %s",
                [names, lo, hi],
            )
            pids = [r[0] for r in cur.fetchall()]
            if pids:
                repurchase_facts_refresh(profile_ids=pids)
        cur.execute(
            "INSERT INTO analytics_rollupday (kind, day, folded_at) "
            "SELECT %s, d::date, now() FROM generate_series(%s::date, %s::date, interval '1 day') d "
            "ON CONFLICT (kind, day) DO UPDATE SET folded_at = EXCLUDED.folded_at",
            [kind, day_from, day_to],
        )


def rollup_fold_dirty(*, limit: int = 100) -> int:
    """Fold up to `limit` dirty (kind, day)s, oldest first; returns how many. Safe to run in parallel."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT id, kind, day, marked_at FROM analytics_rollupdirty ORDER BY kind, day LIMIT %s "
            "FOR UPDATE SKIP LOCKED",
            [limit],
        )
        claimed = cur.fetchall()
        by_kind: dict[str, list[date]] = {}
        for _, kind, day, _ in claimed:
            by_kind.setdefault(kind, []).append(day)
        for kind, days in by_kind.items():
            if kind not in KINDS:
                continue
            for first, last in _runs(days):
                rollup_fold(kind=kind, day_from=first, day_to=last)
        # A day marked again meanwhile waited on our row lock and re-inserts itself after we commit.
        cur.execute("DELETE FROM analytics_rollupdirty WHERE id = ANY(%s)", [[r[0] for r in claimed]])
    return len(claimed)


def rollup_mark_events(*, event_ids: list[int]) -> None:
    """Mark the UTC days these (just processed) events can change, for every kind they feed."""
    if not event_ids:
        return
    values, params = _mark_values()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO analytics_rollupdirty (kind, day, marked_at) "
            "SELECT DISTINCT k.kind, ((e.timestamp + k.shift) AT TIME ZONE 'UTC')::date, now() "
            f"FROM tracking_event e JOIN (VALUES {values}) AS k (kind, name, shift) ON k.name = e.name "
            "WHERE e.id = ANY(%s) AND e.profile_id IS NOT NULL "
            "ON CONFLICT (kind, day) DO UPDATE SET marked_at = EXCLUDED.marked_at",
            [*params, list(event_ids)],
        )


def rollup_mark_profiles(*, profile_ids: list[int]) -> None:
    """Mark every day these profiles' events can change (a merge regroups their events)."""
    values, params = _mark_values()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO analytics_rollupdirty (kind, day, marked_at) "
            "SELECT DISTINCT k.kind, ((e.timestamp + k.shift) AT TIME ZONE 'UTC')::date, now() "
            f"FROM tracking_event e JOIN (VALUES {values}) AS k (kind, name, shift) ON k.name = e.name "
            "WHERE e.profile_id = ANY(%s) "
            "ON CONFLICT (kind, day) DO UPDATE SET marked_at = EXCLUDED.marked_at",
            [*params, list(profile_ids)],
        )
        cur.execute("DELETE FROM analytics_repurchasefact WHERE profile_id = ANY(%s)", [list(profile_ids)])


def rollup_mark_all() -> None:
    """Every folded day is dirty (the event-name mapping changed what the rollups count)."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO analytics_rollupdirty (kind, day, marked_at) SELECT kind, day, now() FROM analytics_rollupday "
            "ON CONFLICT (kind, day) DO UPDATE SET marked_at = EXCLUDED.marked_at"
        )


def _mark_values() -> tuple[str, list[Any]]:
    rows, params = [], []
    for kind in KINDS.values():
        for spec_name, shift in kind.marks:
            for name in spec_event_names(spec_name):
                rows.append("(%s, %s, %s::interval)")
                params += [kind.name, name, shift]
    return ", ".join(rows), params


def rollup_rebuild(
    *,
    kinds: list[str] | None = None,
    chunk_days: int = 7,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Fold every day from the first relevant event to today, `chunk_days` at a time; returns days folded."""
    done: dict[str, int] = {}
    today = timezone.now().astimezone(UTC).date()
    for name in kinds or list(KINDS):
        spec = KINDS[name]
        names = sorted({n for s, _ in spec.marks for n in spec_event_names(s)})
        with connection.cursor() as cur:
            cur.execute("SELECT min(timestamp) FROM tracking_event WHERE name = ANY(%s)", [names])
            first_ts = cur.fetchone()[0]
        if first_ts is None:
            done[name] = 0
            continue
        first = first_ts.astimezone(UTC).date()
        total = (today - first).days + 1
        if name == "affinity":
            with transaction.atomic():
                repurchase_facts_refresh(profile_ids=None)
        day = first
        while day <= today:
            last = min(day + timedelta(days=chunk_days - 1), today)
            rollup_fold(kind=name, day_from=day, day_to=last, repurchase=False)
            if progress:
                progress(name, (last - first).days + 1, total)
            day = last + timedelta(days=1)
        done[name] = total
    return done
