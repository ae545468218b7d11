"""Funnels: how many people went through 2–10 steps in order, where they dropped off and how long it took.

Definition (JSON, validated completely before anything runs, errors by path):

    {"steps": [{"event": NAME, "where": [Cond, …]}, …],          2–10 steps
     "order": "sequential" | "strict" | "any",
     "window_minutes": 1 … 129600,                                 conversion window (≤ 90 days)
     "exclusions": [{"event": NAME, "where": [...], "from_step": 2, "to_step": 3}],
     "breakdown": [{"kind": "property", "key": "category"}, {"kind": "country"}, …],   ≤ 3
     "date_from": "2026-05-01", "date_to": "2026-05-31", "tz": "utc" | "workspace" | "local",
     "compare": {"date_from": …, "date_to": …}}

Semantics (docs/analytics-behaviour.md has the long form; the property test checks them against a
plain-Python evaluation):
- A profile's events are ordered by (timestamp, id): events with the same timestamp count in the
  order they arrived, so one event never serves two steps and "same event in two steps" needs two
  events.
- Every step-1 event inside the date range starts an *attempt*. Sequential: each further step is
  the first matching event after the previous step's event; strict: it must be the very next event
  of the profile (any track/page/screen event in between breaks it); any order: every event of any
  step in the range is an attempt's anchor, and a step counts when a matching event at or after the
  anchor falls inside the window. A step counts only if it is within `window_minutes` of the
  attempt's first event (inclusive). Later steps may fall after the date range.
- An exclusion event strictly between the attempt's `from_step` and `to_step` events discards that
  attempt (a profile whose every attempt is discarded is not in the funnel).
- Each profile counts once, with its best attempt (most steps; the earliest among equals). In a
  breakdown a profile counts once per breakdown value (of its entry event, or of the profile), so
  groups may add up to more than the total — a value that changes between attempts is two groups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings

from tracking.analytics.behaviour.common import (
    PROFILE_KINDS,
    ZONES_CTE,
    AnalysisInvalid,
    DateRange,
    analysis_cursor,
    breakdown_parse,
    breakdown_sql,
    dim_label,
    event_filter_sql,
    event_name_parse,
    range_parse,
    spec_event_names,
    tz_parse,
    where_parse,
    zone_join,
    zone_sql,
)

ORDERS = ("sequential", "strict", "any")
MAX_WINDOW_MINUTES = 90 * 24 * 60
# Time-to-convert histogram edges in seconds (first step → last step of those who converted).
TTC_EDGES = [
    (60, "< 1 min"),
    (600, "1–10 min"),
    (3600, "10–60 min"),
    (6 * 3600, "1–6 h"),
    (86400, "6–24 h"),
    (3 * 86400, "1–3 days"),
    (7 * 86400, "3–7 days"),
    (30 * 86400, "7–30 days"),
    (None, "≥ 30 days"),
]


@dataclass(frozen=True)
class Step:
    event: str
    where: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Exclusion:
    event: str
    where: list[dict[str, Any]]
    from_step: int  # 1-based
    to_step: int


@dataclass(frozen=True)
class FunnelDefinition:
    steps: list[Step]
    order: str
    window_minutes: int
    exclusions: list[Exclusion]
    breakdown: list[dict[str, Any]]
    range: DateRange
    compare: DateRange | None = None


def funnel_parse(raw: Any) -> FunnelDefinition:
    """A funnel definition from JSON; raises AnalysisInvalid listing every problem by path."""
    errors: list[tuple[str, str]] = []
    if not isinstance(raw, dict):
        raise AnalysisInvalid([("", "must be an object with steps, window_minutes, date_from and date_to")])
    known = {"steps", "order", "window_minutes", "exclusions", "breakdown", "date_from", "date_to", "tz"}
    errors += [(str(k), "unknown key") for k in raw if k not in known | {"compare"}]
    steps: list[Step] = []
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not 2 <= len(raw_steps) <= 10:
        errors.append(("steps", "must be a list of 2 to 10 steps"))
        raw_steps = raw_steps if isinstance(raw_steps, list) else []
    for i, step in enumerate(raw_steps[:10]):
        path = f"steps[{i}]"
        if not isinstance(step, dict):
            errors.append((path, 'must be an object like {"event": NAME, "where": [...]}'))
            continue
        errors += [(f"{path}.{k}", "unknown key") for k in step if k not in ("event", "where")]
        steps.append(
            Step(
                event_name_parse(step.get("event"), f"{path}.event", errors),
                where_parse(step.get("where"), f"{path}.where", errors),
            )
        )
    order = raw.get("order") or "sequential"
    if order not in ORDERS:
        errors.append(("order", "must be one of: " + ", ".join(ORDERS)))
    window = raw.get("window_minutes")
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_MINUTES:
        errors.append(("window_minutes", f"must be a whole number of minutes from 1 to {MAX_WINDOW_MINUTES}"))
        window = 1
    exclusions: list[Exclusion] = []
    raw_ex = raw.get("exclusions") or []
    if not isinstance(raw_ex, list):
        errors.append(("exclusions", "must be a list"))
        raw_ex = []
    if raw_ex and order != "sequential":
        errors.append(("exclusions", "exclusions apply to sequential funnels only"))
    for i, ex in enumerate(raw_ex):
        path = f"exclusions[{i}]"
        if not isinstance(ex, dict):
            errors.append((path, "must be an object with event, from_step and to_step"))
            continue
        errors += [
            (f"{path}.{k}", "unknown key") for k in ex if k not in ("event", "where", "from_step", "to_step")
        ]
        lo, hi = ex.get("from_step"), ex.get("to_step")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)) or not (
            1 <= lo < hi <= max(len(steps), 2)
        ):
            errors.append((f"{path}.to_step", "from_step and to_step must be step numbers with from < to"))
            lo, hi = 1, 2
        exclusions.append(
            Exclusion(
                event_name_parse(ex.get("event"), f"{path}.event", errors),
                where_parse(ex.get("where"), f"{path}.where", errors),
                lo,
                hi,
            )
        )
    breakdown = breakdown_parse(raw.get("breakdown"), errors)
    tz = tz_parse(raw.get("tz"), errors)
    rng = range_parse(raw, errors, tz=tz)
    compare = None
    if raw.get("compare"):
        if not isinstance(raw["compare"], dict):
            errors.append(("compare", "must be an object with date_from and date_to"))
        else:
            compare = range_parse(raw["compare"], errors, prefix="compare.", tz=tz)
    if errors:
        raise AnalysisInvalid(errors)
    assert rng is not None
    return FunnelDefinition(steps, order, window, exclusions, breakdown, rng, compare)


# --- SQL --------------------------------------------------------------------------------------------


def _event_dims(defn: FunnelDefinition) -> list[tuple[str, dict[str, Any]]]:
    """(column, dimension) of the breakdown values read from the entry event (property, device)."""
    return [(f"b{i}", d) for i, d in enumerate(defn.breakdown, start=1) if d["kind"] not in PROFILE_KINDS]


def _profile_dims(defn: FunnelDefinition) -> list[tuple[str, dict[str, Any]]]:
    """(column, dimension) of the breakdown values read from the profile (trait, channel, country)."""
    return [(f"b{i}", d) for i, d in enumerate(defn.breakdown, start=1) if d["kind"] in PROFILE_KINDS]


def _step_columns(defn: FunnelDefinition, exclusions: bool) -> tuple[list[str], list[Any], list[str]]:
    """`s1 … sn` (and `x1 …`) flag columns over `e`, their parameters and every event name they read."""
    cols: list[str] = []
    params: list[Any] = []
    names: set[str] = set()
    for k, step in enumerate(defn.steps, start=1):
        step_names = spec_event_names(step.event)
        names.update(step_names)
        sql, p = event_filter_sql(names=step_names, where=step.where)
        cols.append(f"{sql} AS s{k}")
        params += p
    for j, ex in enumerate(defn.exclusions if exclusions else [], start=1):
        ex_names = spec_event_names(ex.event)
        names.update(ex_names)
        sql, p = event_filter_sql(names=ex_names, where=ex.where)
        cols.append(f"{sql} AS x{j}")
        params += p
    return cols, params, sorted(names)


def _chain_attempts_sql(defn: FunnelDefinition, rng: DateRange) -> tuple[str, list[Any]]:
    """Attempts of a sequential (no exclusions) or any-order funnel in one ordered pass per profile.

    The step events of the range + window are read once (with no step filter or event breakdown
    they come from the covering (name, timestamp) index alone, without the table), sorted once by
    profile and (timestamp, id) descending, and every later figure is a running `min` over the
    events after a row, so nothing is joined to itself:

    - sequential: `g{k}_{j}` on a row is the time of step j in the chain whose step k-1 is that
      row (step k = the first step-k event after it, step k+1 the first after that, …). Step n's
      is the first step-n time after the row; step j's for a lower k is the smallest `g{k+1}_{j}`
      among the step-k events after the row, because a chain that starts later never ends
      earlier. So n-1 window levels over one sort give every entry event its whole chain.
    - any order: `h{k}` is the first step-k time at or after the row.
    An event never serves two steps of one sequential chain (the frames exclude the row itself).
    """
    n = len(defn.steps)
    window = timedelta(minutes=defn.window_minutes)
    # The window is a validated whole number of minutes, written into the statement as a literal.
    w = f"interval '{int(defn.window_minutes)} minutes'"
    lo, hi = rng.utc_bounds()
    cols, params, names = _step_columns(defn, exclusions=False)
    ev_dims = _event_dims(defn)
    cols += [f"{breakdown_sql(dim)} AS {b}" for b, dim in ev_dims]
    s_cols = [f"s{k}" for k in range(1, n + 1)]
    ev = (
        f"SELECT * FROM (SELECT e.profile_id AS pid, e.timestamp AS ts, e.id AS eid, {', '.join(cols)} "
        "FROM tracking_event e WHERE e.name IN (" + ", ".join(["%s"] * len(names)) + ") "
        "AND e.timestamp >= %s AND e.timestamp < %s AND e.profile_id IS NOT NULL) q "
        f"WHERE {' OR '.join(s_cols)}"
    )
    params += [*names, lo, hi + window]
    after = (
        "WINDOW d AS (PARTITION BY pid ORDER BY ts DESC, eid DESC ROWS BETWEEN UNBOUNDED PRECEDING AND {end})"
    )
    bsel = "".join(f", {b}" for b, _ in ev_dims)
    if defn.order == "sequential":
        level = ev
        for k in range(n, 1, -1):
            figures = [f"min(ts) FILTER (WHERE s{k}) OVER d AS g{k}_{k}"] + [
                f"min(g{k + 1}_{j}) FILTER (WHERE s{k}) OVER d AS g{k}_{j}" for j in range(k + 1, n + 1)
            ]
            if k == 2:
                figures.append("row_number() OVER d AS rn")
            level = f"SELECT *, {', '.join(figures)} FROM ({level}) l{k} " + after.format(end="1 PRECEDING")
        times = [f"g2_{k} AS t{k}" for k in range(2, n + 1)]
        reached = "1 + " + " + ".join(
            f"(CASE WHEN g2_{k} <= ts + {w} THEN 1 ELSE 0 END)" for k in range(2, n + 1)
        )
        attempts = (
            f"SELECT pid, eid AS p1, rn, {reached} AS reached{bsel}, ts AS t1, {', '.join(times)} "
            f"FROM ({level}) c WHERE s1"
        )
    else:  # any order: the k-th step reached is the k-th earliest of the steps' first events in the window
        firsts = ", ".join(f"min(ts) FILTER (WHERE s{k}) OVER d AS h{k}" for k in range(1, n + 1))
        firsts += ", row_number() OVER d AS rn"
        level = f"SELECT *, {firsts} FROM ({ev}) l " + after.format(end="CURRENT ROW")
        hits = ", ".join(f"CASE WHEN h{k} <= ts + {w} THEN h{k} END" for k in range(1, n + 1))
        inner = (
            f"SELECT pid, eid, rn, ts{bsel}, ARRAY(SELECT h FROM unnest(ARRAY[{hits}]) h WHERE h IS NOT NULL "
            f"ORDER BY h) AS st FROM ({level}) c"
        )
        attempts = (
            f"SELECT pid, eid AS p1, rn, cardinality(st) AS reached{bsel}, "
            + ", ".join(f"st[{k}] AS t{k}" for k in range(1, n + 1))
            + f" FROM ({inner}) i"
        )
    if rng.tz == "local":
        # Each profile's own days: its zone's first and last instants of the range, worked out once
        # per zone (not per event), then compared with the entry time.
        bounds, bp = _local_bounds_sql(rng)
        sql = (
            f"SELECT a.* FROM ({attempts}) a JOIN tracking_profile p ON p.id = a.pid "
            f"LEFT JOIN ({bounds}) _zb ON _zb.name = p.timezone "
            "WHERE a.t1 >= COALESCE(_zb.lo, %s) AND a.t1 < COALESCE(_zb.hi, %s)"
        )
        params += [*bp, *_workspace_bounds(rng)]
    else:
        # Still in the window's order (profile, then time descending): the reduction below needs no sort.
        sql = f"SELECT * FROM ({attempts}) a WHERE a.t1 >= %s AND a.t1 < %s"
        params += [lo, hi]
    # Each profile's best attempt (per value of the entry-event breakdowns): most steps, then the
    # earliest, i.e. the highest row number counted from the profile's latest event. One more
    # window over the same order picks it, where DISTINCT ON would sort every attempt again.
    parts = "".join(f", a.{b}" for b, _ in ev_dims)
    rank = "reached::int8 * 4294967296 + rn"
    sql = (
        f"SELECT * FROM (SELECT a.*, max(a.{rank}) OVER (PARTITION BY a.pid{parts}) AS top FROM ({sql}) a) r "
        f"WHERE r.{rank} = r.top"
    )
    return sql, params


def _local_bounds_sql(rng: DateRange) -> tuple[str, list[Any]]:
    """Per known zone: the UTC instants at which the range's first day starts and the day after its
    last day starts there."""
    return (
        "SELECT name, (%s::timestamp AT TIME ZONE name) AS lo, (%s::timestamp AT TIME ZONE name) AS hi "
        "FROM pg_timezone_names",
        [rng.date_from, rng.date_to + timedelta(days=1)],
    )


def _workspace_bounds(rng: DateRange) -> tuple[datetime, datetime]:
    zone = ZoneInfo(settings.TIME_ZONE)
    return (
        datetime.combine(rng.date_from, datetime.min.time(), tzinfo=zone),
        datetime.combine(rng.date_to + timedelta(days=1), datetime.min.time(), tzinfo=zone),
    )


def _windows_bound(sql: str, params: list[Any], window: timedelta, tail: list[Any]) -> tuple[str, list[Any]]:
    """Swap %(w)s (the window) for positional parameters, in order of appearance.

    Every %(w)s sits after the positional %s of the inner statements and before those of `tail`.
    """
    pieces = sql.split("%(w)s")
    out = pieces[0]
    for piece in pieces[1:]:
        out += "%s" + piece
    return out, [*params, *([window] * (len(pieces) - 1)), *tail]


def _attempts_sql(defn: FunnelDefinition, rng: DateRange) -> tuple[str, list[Any], bool]:
    """Attempts (one per entry event): pid, p1 (a tie-break key in time order), reached, the
    event-read breakdown values and the step times t1 … tn; and whether they are already reduced to
    each profile's best (per entry-event breakdown value)."""
    if defn.order == "any" or (defn.order == "sequential" and not defn.exclusions):
        return (*_chain_attempts_sql(defn, rng), True)
    return (*_positional_attempts_sql(defn, rng), False)


def _positional_attempts_sql(defn: FunnelDefinition, rng: DateRange) -> tuple[str, list[Any]]:
    """Attempts of strict funnels and sequential funnels with exclusions: each profile's events are
    numbered and each attempt looks its steps up by position (strict order needs every event of the
    profile; an exclusion counts the excluded events between two step positions)."""
    n = len(defn.steps)
    window = timedelta(minutes=defn.window_minutes)
    lo, hi = rng.utc_bounds()
    cols, params, names_sorted = _step_columns(defn, exclusions=True)
    names = set(names_sorted)
    zone, zp = zone_sql(rng.tz)
    if rng.tz == "local":
        cols.append(f"(e.timestamp AT TIME ZONE {zone})::date BETWEEN %s AND %s AS inr")
        params += [*zp, rng.date_from, rng.date_to]
    else:
        cols.append("(e.timestamp >= %s AND e.timestamp < %s) AS inr")
        params += [lo, hi]
    bcols = [b for b, _ in _event_dims(defn)]
    cols += [f"{breakdown_sql(dim)} AS {b}" for b, dim in _event_dims(defn)]
    joins = (
        (" JOIN tracking_profile p ON p.id = e.profile_id" + zone_join(rng.tz)) if rng.tz == "local" else ""
    )
    where = "e.profile_id IS NOT NULL AND e.timestamp >= %s AND e.timestamp < %s"
    params += [lo, hi + window]
    if defn.order == "strict":
        # "Nothing between" means no event of any kind: read them all (track, page and screen).
        where += " AND e.type IN ('track', 'page', 'screen')"
        keep = "TRUE"
    else:
        where += " AND e.name IN (" + ", ".join(["%s"] * len(names)) + ")"
        params += sorted(names)
        keep = " OR ".join(
            [f"s{k}" for k in range(1, n + 1)] + [f"x{j}" for j in range(1, len(defn.exclusions) + 1)]
        )
    s_cols = [f"s{k}" for k in range(1, n + 1)]
    x_cols = [f"x{j}" for j in range(1, len(defn.exclusions) + 1)]
    carry = ", ".join(["eid", "inr", *bcols])
    ev = (
        f"ev AS MATERIALIZED (SELECT *, row_number() OVER (PARTITION BY pid ORDER BY ts, eid) AS rn "
        f"FROM (SELECT e.profile_id AS pid, e.timestamp AS ts, e.id AS eid, {', '.join(cols)} "
        f"FROM tracking_event e{joins} WHERE {where}) q WHERE {keep})"
    )
    if defn.order == "strict":
        nx_cols = "".join(f", {s}" for s in s_cols[1:]) + " FROM ev"
        arrays = ", ".join(f"array_agg({s} ORDER BY rn) AS {s}" for s in s_cols[1:])
    else:
        wanted = range(2, n + 1)
        nx_cols = "".join(f", min(CASE WHEN s{k} THEN rn END) OVER f AS n{k}" for k in wanted)
        nx_cols += "".join(
            f", sum(CASE WHEN {x} THEN 1 ELSE 0 END) OVER (PARTITION BY pid ORDER BY rn) AS c_{x}"
            for x in x_cols
        )
        nx_cols += " FROM ev WINDOW f AS (PARTITION BY pid ORDER BY rn ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)"
        arrays = ", ".join(
            [f"array_agg(n{k} ORDER BY rn) AS n{k}" for k in wanted]
            + [f"array_agg(c_{x} ORDER BY rn) AS c_{x}" for x in x_cols]
        )
    nx = f"nx AS (SELECT pid, rn, ts, s1 AS is_start, {carry}{nx_cols})"
    arr = f"arr AS (SELECT pid, array_agg(ts ORDER BY rn) AS t, {arrays} FROM nx GROUP BY pid HAVING bool_or(is_start AND inr))"
    starts = f"starts AS (SELECT pid, rn, ts, {carry} FROM nx WHERE is_start AND inr)"
    bsel = "".join(f", s.{b}" for b in bcols)
    if defn.order == "sequential":
        laterals = []
        prev = "s.rn"
        for k in range(2, n + 1):
            laterals.append(f" CROSS JOIN LATERAL (SELECT a.n{k}[{prev}] AS p{k}) l{k}")
            prev = f"l{k}.p{k}"
        times = ", ".join(f"a.t[l{k}.p{k}] AS t{k}" for k in range(2, n + 1))
        positions = ", ".join(f"l{k}.p{k}" for k in range(2, n + 1))
        inner = (
            f"SELECT s.pid, s.eid, s.rn AS p1, s.ts AS t1{bsel}, {positions}, {times}"
            + "".join(f", a.c_{x}" for x in x_cols)
            + " FROM starts s JOIN arr a USING (pid)"
            + "".join(laterals)
        )
        reached = "1 + " + " + ".join(
            f"(CASE WHEN t{k} <= t1 + %(w)s THEN 1 ELSE 0 END)" for k in range(2, n + 1)
        )
        excluded = []
        for j, ex in enumerate(defn.exclusions, start=1):
            pf = "p1" if ex.from_step == 1 else f"p{ex.from_step}"
            excluded.append(
                f"(r.reached >= {ex.to_step} AND r.c_x{j}[r.p{ex.to_step} - 1] - r.c_x{j}[r.{pf}] > 0)"
            )
        attempts = (
            f"SELECT r.pid, r.eid AS p1, r.reached{''.join(f', r.{b}' for b in bcols)}, "
            + ", ".join(f"r.t{k}" for k in range(1, n + 1))
            + f", {' OR '.join(excluded) if excluded else 'FALSE'} AS excluded"
            + f" FROM (SELECT i.*, {reached} AS reached FROM ({inner}) i) r"
        )
    else:  # strict
        times = ", ".join(f"a.t[s.rn + {k - 1}] AS t{k}" for k in range(2, n + 1))
        nested = "0"
        for k in range(n, 1, -1):
            nested = f"(CASE WHEN a.s{k}[s.rn + {k - 1}] AND a.t[s.rn + {k - 1}] <= s.ts + %(w)s THEN 1 + {nested} ELSE 0 END)"
        attempts = (
            f"SELECT s.pid, s.eid AS p1, 1 + {nested} AS reached{bsel}, s.ts AS t1, {times}, FALSE AS excluded "
            "FROM starts s JOIN arr a USING (pid)"
        )
    ctes = ([ZONES_CTE] if rng.tz == "local" else []) + [ev, nx, arr, starts]
    cols_out = ", ".join(["pid", "p1", "reached", *bcols, *[f"t{k}" for k in range(1, n + 1)]])
    sql = f"WITH {', '.join(ctes)} SELECT {cols_out} FROM ({attempts}) att WHERE NOT excluded"
    return _windows_bound(sql, params, window, [])


def _bucket_case(expr: str) -> str:
    whens = []
    for i, (edge, _) in enumerate(TTC_EDGES):
        if edge is None:
            whens.append(f"ELSE {i}")
        else:
            whens.append(f"WHEN {expr} < {edge} THEN {i}")
    return "CASE " + " ".join(whens) + " END"


def _measure(defn: FunnelDefinition, rng: DateRange) -> dict[str, Any]:
    n = len(defn.steps)
    sql, params, reduced = _attempts_sql(defn, rng)
    ev_cols = [b for b, _ in _event_dims(defn)]
    p_dims = _profile_dims(defn)
    bcols = [f"b{i}" for i in range(1, len(defn.breakdown) + 1)]
    counts = ", ".join(f"count(*) FILTER (WHERE reached >= {k})" for k in range(1, n + 1))
    medians = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t{k} - t{k - 1})) FILTER (WHERE reached >= {k})"
        for k in range(2, n + 1)
    )
    means = ", ".join(
        f"avg(extract(epoch FROM t{k} - t{k - 1})) FILTER (WHERE reached >= {k})" for k in range(2, n + 1)
    )
    # The reduction comes first: each profile's best attempt (per value of the breakdowns read from
    # the entry event), so zones and profile-read breakdowns are looked up once per profile, not per
    # event. Attempts arrive grouped by profile, so DISTINCT ON only sorts within each profile.
    keys = ", ".join(["pid", *ev_cols])
    reduce_sql = (
        sql
        if reduced
        else f"SELECT DISTINCT ON ({keys}) * FROM ({sql}) a ORDER BY {keys}, reached DESC, t1, p1"
    )
    best = (
        "SELECT DISTINCT ON (pid) * FROM _funnel_best ORDER BY pid, reached DESC, t1, p1"
        if ev_cols
        else "SELECT * FROM _funnel_best"
    )
    zone, zp = zone_sql(rng.tz)
    with analysis_cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS _funnel_best")
        cur.execute(f"CREATE TEMP TABLE _funnel_best ON COMMIT DROP AS {reduce_sql}", params)
        cur.execute(f"SELECT {counts}, {medians}, {means} FROM ({best}) b")
        row = cur.fetchone()
        step_counts = list(row[:n])
        med = [None, *row[n : 2 * n - 1]]
        avg = [None, *row[2 * n - 1 : 3 * n - 2]]
        cur.execute(
            "SELECT bucket, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) FROM "
            f"(SELECT {_bucket_case('extract(epoch FROM t' + str(n) + ' - t1)')} AS bucket, "
            f"extract(epoch FROM t{n} - t1) AS secs FROM ({best}) b WHERE reached = {n}) q "
            "GROUP BY ROLLUP (bucket) ORDER BY bucket"
        )
        ttc_rows = cur.fetchall()
        if rng.tz == "local":
            daily_from = (
                f"(SELECT b.*, {zone} AS tz FROM ({best}) b JOIN tracking_profile p ON p.id = b.pid"
                f"{zone_join(rng.tz)}) b"
            )
            daily_sql = f"WITH {ZONES_CTE} SELECT (t1 AT TIME ZONE tz)::date AS day, count(*), "
        else:
            daily_from = f"(SELECT b.*, {zone} AS tz FROM ({best}) b) b"
            daily_sql = "SELECT (t1 AT TIME ZONE tz)::date AS day, count(*), "
        cur.execute(
            daily_sql + f"count(*) FILTER (WHERE reached = {n}) FROM {daily_from} GROUP BY 1 ORDER BY 1",
            zp,
        )
        daily_rows = cur.fetchall()
        groups: list[dict[str, Any]] = []
        if bcols:
            keys = ", ".join(bcols)
            psel = "".join(f", {breakdown_sql(dim)} AS {b}" for b, dim in p_dims)
            pjoin = " JOIN tracking_profile p ON p.id = f.pid" if p_dims else ""
            cur.execute(
                f"SELECT {keys}, {counts} FROM (SELECT f.*{psel} FROM _funnel_best f{pjoin}) b "
                f"GROUP BY {keys} ORDER BY {len(bcols) + 1} DESC, {keys}"
            )
            for r in cur.fetchall():
                groups.append(
                    {"values": list(r[: len(bcols)]), "steps": _step_rows(defn, list(r[len(bcols) :]))}
                )
        cur.execute("DROP TABLE _funnel_best")
    steps = _step_rows(defn, step_counts, med, avg)
    by_bucket = {b: c for b, c, _ in ttc_rows if b is not None}
    ttc_median = next((m for b, _, m in ttc_rows if b is None), None)
    days = {d: (e, c) for d, e, c in daily_rows}
    daily = []
    day = rng.date_from
    while day <= rng.date_to:
        e, c = days.get(day, (0, 0))
        daily.append({"day": day.isoformat(), "entered": e, "converted": c, "rate": _rate(c, e)})
        day += timedelta(days=1)
    return {
        "date_from": rng.date_from.isoformat(),
        "date_to": rng.date_to.isoformat(),
        "steps": steps,
        "time_to_convert": {
            "median_seconds": ttc_median,
            "buckets": [
                {"label": label, "count": by_bucket.get(i, 0)} for i, (_, label) in enumerate(TTC_EDGES)
            ],
        },
        "daily": daily,
        "breakdown": groups,
    }


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def _step_rows(
    defn: FunnelDefinition, counts: list[int], med: list | None = None, avg: list | None = None
) -> list[dict[str, Any]]:
    out = []
    for k, count in enumerate(counts):
        prev = counts[k - 1] if k else None
        nxt = counts[k + 1] if k + 1 < len(counts) else None
        out.append(
            {
                "step": k + 1,
                "event": defn.steps[k].event,
                "count": count,
                "conversion_from_previous": _rate(count, prev) if prev is not None else None,
                "conversion_from_first": _rate(count, counts[0]),
                "dropped": (count - nxt) if nxt is not None else None,
                "median_seconds_from_previous": float(med[k]) if med and med[k] is not None else None,
                "average_seconds_from_previous": float(avg[k]) if avg and avg[k] is not None else None,
            }
        )
    return out


def funnel_compute(*, definition: FunnelDefinition) -> dict[str, Any]:
    """The funnel over its date range (and the comparison range when given)."""
    result = _measure(definition, definition.range)
    for step in result["steps"]:
        step["audience_url"] = funnel_dropoff_audience_url(definition=definition, step=step["step"])
    if definition.compare is not None:
        result["compare"] = _measure(definition, definition.compare)
    result["order"] = definition.order
    result["window_minutes"] = definition.window_minutes
    result["breakdown_dimensions"] = [{**d, "label": dim_label(d)} for d in definition.breakdown]
    return result


# --- "make an audience of those who dropped here" ---------------------------------------------------

AUDIENCE_ADD_URL = "/admin/audiences/audience/add/"


def funnel_dropoff_rule(*, definition: FunnelDefinition, step: int, today: date | None = None) -> dict | None:
    """The audience rule for "did steps 1..k, not step k+1" (None for the last step or any order).

    The rule language's `sequence` is ordered and its window counts back from now, so the rule is
    the closest it can say: the first step within the last D days (D reaching back to the start of
    the date range). It cannot say: the conversion window, strict order, exclusion steps, an end
    date, or ties in time (a sequence step must be strictly later).
    """
    n = len(definition.steps)
    if definition.order == "any" or step >= n:
        return None
    today = today or date.today()
    days = max(1, (today - definition.range.date_from).days + 1)

    def spec(s: Step) -> dict[str, Any]:
        return {"event": s.event, **({"where": s.where} if s.where else {})}

    def did(k: int) -> dict[str, Any]:
        if k == 1:
            return {
                **{"event": definition.steps[0].event},
                **({"where": definition.steps[0].where} if definition.steps[0].where else {}),
                "within_days": days,
            }
        return {"sequence": [spec(s) for s in definition.steps[:k]], "within_days": days}

    return {"all": [did(step), {"not": did(step + 1)}]}


def funnel_dropoff_audience_url(*, definition: FunnelDefinition, step: int) -> str | None:
    rule = funnel_dropoff_rule(definition=definition, step=step)
    if rule is None:
        return None
    name = f"Dropped after {definition.steps[step - 1].event} (before {definition.steps[step].event})"
    return AUDIENCE_ADD_URL + "?" + urlencode({"name": name[:200], "kind": "rule", "rule": json.dumps(rule)})
