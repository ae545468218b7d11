"""Random event streams and random funnel / retention definitions: the SQL engines' answers equal a
plain-Python evaluation written from the definitions in docs/analytics-behaviour.md (not from the SQL).

The evaluator reads every event into memory and walks it the obvious way (one attempt per entry event,
the first matching event for each next step), which is fine for a handful of profiles.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracking.analytics.behaviour.funnels import TTC_EDGES, funnel_compute, funnel_parse
from tracking.analytics.behaviour.retention import retention_compute, retention_parse
from tracking.models import Event, Profile, Source

pytestmark = pytest.mark.django_db(transaction=False)

NAMES = ["A", "B", "C", "X"]
WORDS = ["red", "blue"]
ZONES = ["", "Asia/Tokyo", "America/Sao_Paulo", "Not/AZone"]
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
DAY_FROM, DAY_TO = date(2026, 3, 2), date(2026, 3, 5)

# --- data -------------------------------------------------------------------------------------------

# Minutes from T0 on a coarse grid so that ties in time and window edges happen often.
minute_st = st.integers(-2, 60).map(lambda i: i * 90)
props_st = st.fixed_dictionaries({}, optional={"n": st.integers(0, 4), "w": st.sampled_from(WORDS)})
event_st = st.tuples(st.sampled_from(NAMES), minute_st, props_st)
profile_st = st.fixed_dictionaries(
    {
        "country": st.sampled_from(["", "DE", "US"]),
        "timezone": st.sampled_from(ZONES),
        "events": st.lists(event_st, max_size=9),
    }
)

cond_st = st.one_of(
    st.builds(lambda v: {"property": "n", "op": "gte", "value": v}, st.integers(0, 4)),
    st.builds(
        lambda v: {"property": "n", "op": "in", "value": v},
        st.lists(st.integers(0, 4), min_size=1, max_size=2),
    ),
    st.builds(lambda v: {"property": "w", "op": "eq", "value": v}, st.sampled_from(WORDS)),
    st.builds(lambda v: {"property": "w", "op": "neq", "value": v}, st.sampled_from(WORDS)),
    st.just({"property": "n", "op": "exists"}),
)
step_st = st.builds(
    lambda e, w: {"event": e, **({"where": w} if w else {})},
    st.sampled_from(NAMES[:3]),
    st.lists(cond_st, max_size=1),
)
breakdown_st = st.sampled_from(
    [
        [],
        [{"kind": "property", "key": "w"}],
        [{"kind": "country"}],
        [{"kind": "property", "key": "n"}, {"kind": "country"}],
    ]
)


@st.composite
def funnel_st(draw):
    steps = draw(st.lists(step_st, min_size=2, max_size=4))
    order = draw(st.sampled_from(["sequential", "strict", "any"]))
    if order == "any":
        # Any-order steps must be told apart by their event: keep the names distinct.
        names = draw(st.permutations(NAMES[:3]))[: len(steps[:3])]
        steps = [{**s, "event": n} for s, n in zip(steps[:3], names, strict=True)]
    exclusions = []
    if order == "sequential" and draw(st.booleans()):
        lo = draw(st.integers(1, len(steps) - 1))
        hi = draw(st.integers(lo + 1, len(steps)))
        exclusions = [{"event": "X", "from_step": lo, "to_step": hi}]
    return {
        "steps": steps,
        "order": order,
        "window_minutes": draw(st.sampled_from([90, 180, 24 * 60, 3 * 24 * 60])),
        "exclusions": exclusions,
        "breakdown": draw(breakdown_st),
        "date_from": DAY_FROM.isoformat(),
        "date_to": DAY_TO.isoformat(),
        "tz": draw(st.sampled_from(["utc", "workspace", "local"])),
    }


# --- the independent evaluator ----------------------------------------------------------------------


def leaves(doc, path):
    head, rest = path[0], path[1:]
    out = []
    for item in doc if isinstance(doc, list) else [doc]:
        if isinstance(item, dict) and head in item:
            v = item[head]
            out += leaves(v, rest) if rest else (list(v) if isinstance(v, list) else [v])
    return out


def same(a, b):
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        return a == b
    return type(a) is type(b) and a == b


def cond_holds(props, c):
    op = c["op"]
    base = {"neq": "eq", "not_in": "in", "not_exists": "exists"}.get(op, op)
    vals = leaves(props, c["property"].split("."))

    def one(x):
        if base == "exists":
            return x is not None
        if base == "eq":
            return same(x, c["value"])
        if base == "in":
            return any(same(x, v) for v in c["value"])
        if base == "gte":
            return isinstance(x, int) and not isinstance(x, bool) and x >= c["value"]
        raise AssertionError(op)

    hit = any(one(x) for x in vals)
    return hit != (base != op)


def matches(step, e):
    return e["name"] == step["event"] and all(cond_holds(e["props"], c) for c in step.get("where", []))


def zone_of(defn, p, workspace):
    if defn["tz"] == "utc":
        return ZoneInfo("UTC")
    if defn["tz"] == "workspace" or p["timezone"] in ("", "Not/AZone"):
        return ZoneInfo(workspace)
    return ZoneInfo(p["timezone"])


def attempts_of(defn, p, workspace):
    """Every (not discarded) attempt of one profile: (reached, [times], entry event)."""
    steps, n = defn["steps"], len(defn["steps"])
    window = timedelta(minutes=defn["window_minutes"])
    zone = zone_of(defn, p, workspace)
    evs = sorted(p["events"], key=lambda e: (e["ts"], e["id"]))

    def in_range(e):
        return DAY_FROM <= e["ts"].astimezone(zone).date() <= DAY_TO

    out = []
    for i, e in enumerate(evs):
        if not in_range(e):
            continue
        if defn["order"] == "sequential" and matches(steps[0], e):
            idx, pos = [i], i
            for k in range(1, n):
                j = next((j for j in range(pos + 1, len(evs)) if matches(steps[k], evs[j])), None)
                if j is None or evs[j]["ts"] > e["ts"] + window:
                    break
                idx.append(j)
                pos = j
            discarded = any(
                len(idx) >= x["to_step"]
                and any(
                    evs[j]["name"] == x["event"]
                    for j in range(idx[x["from_step"] - 1] + 1, idx[x["to_step"] - 1])
                )
                for x in defn["exclusions"]
            )
            if not discarded:
                out.append((len(idx), [evs[j]["ts"] for j in idx], e, i))
        elif defn["order"] == "strict" and matches(steps[0], e):
            idx = [i]
            for k in range(1, n):
                j = i + k
                if j >= len(evs) or not matches(steps[k], evs[j]) or evs[j]["ts"] > e["ts"] + window:
                    break
                idx.append(j)
            out.append((len(idx), [evs[j]["ts"] for j in idx], e, i))
        elif defn["order"] == "any" and any(matches(s, e) for s in steps):
            times = []
            for s in steps:
                j = next((j for j in range(i, len(evs)) if matches(s, evs[j])), None)
                if j is not None and evs[j]["ts"] <= e["ts"] + window:
                    times.append(evs[j]["ts"])
            out.append((len(times), sorted(times), e, i))
    return out


def bd_value(dim, p, entry):
    if dim["kind"] == "country":
        return p["country"] or None
    v = entry["props"].get(dim["key"])
    return None if v is None else (v if isinstance(v, str) else str(v).lower())


def py_funnel(defn, profiles, workspace):
    n = len(defn["steps"])
    best_all, groups = [], defaultdict(dict)
    for p in profiles:
        atts = attempts_of(defn, p, workspace)
        if not atts:
            continue

        def key(a):
            return (-a[0], a[1][0], a[3])

        best_all.append((p, min(atts, key=key)))
        for a in atts:
            values = tuple(bd_value(d, p, a[2]) for d in defn["breakdown"])
            cur = groups[values].get(p["pid"])
            if cur is None or key(a) < key(cur):
                groups[values][p["pid"]] = a
    counts = [sum(1 for _, a in best_all if a[0] >= k) for k in range(1, n + 1)]
    medians = [None] + [
        statistics.median([(a[1][k] - a[1][k - 1]).total_seconds() for _, a in best_all if a[0] > k] or [0])
        if any(a[0] > k for _, a in best_all)
        else None
        for k in range(1, n)
    ]
    buckets = [0] * len(TTC_EDGES)
    for _, a in best_all:
        if a[0] == n:
            secs = (a[1][-1] - a[1][0]).total_seconds()
            i = next(i for i, (edge, _) in enumerate(TTC_EDGES) if edge is None or secs < edge)
            buckets[i] += 1
    daily = defaultdict(lambda: [0, 0])
    for p, a in best_all:
        day = a[1][0].astimezone(zone_of(defn, p, workspace)).date()
        daily[day][0] += 1
        daily[day][1] += a[0] == n
    by_group = {
        values: [sum(1 for a in members.values() if a[0] >= k) for k in range(1, n + 1)]
        for values, members in groups.items()
    }
    return counts, medians, buckets, dict(daily), by_group


# --- retention --------------------------------------------------------------------------------------


@st.composite
def retention_st(draw):
    return {
        "start": draw(step_st),
        "return": draw(step_st),
        "mode": draw(st.sampled_from(["first_time", "recurring"])),
        "period": draw(st.sampled_from(["day", "week"])),
        "periods": draw(st.integers(2, 5)),
        "breakdown": draw(
            st.sampled_from(
                [[], [{"kind": "country"}], [{"kind": "property", "key": "w"}, {"kind": "country"}]]
            )
        ),
        "date_from": DAY_FROM.isoformat(),
        "date_to": DAY_TO.isoformat(),
        "tz": draw(st.sampled_from(["utc", "workspace", "local"])),
    }


def period_no(d: date, period: str) -> int:
    epoch = date(2000, 1, 3)  # a Monday
    days = (d - epoch).days
    if period == "day":
        return days
    if period == "week":
        return days // 7
    return d.year * 12 + d.month - 1


def py_retention(defn, profiles, workspace, now):
    period, nper = defn["period"], defn["periods"]
    lo, hi = period_no(DAY_FROM, period), period_no(DAY_TO, period)
    now_no = None
    table = defaultdict(lambda: defaultdict(set))  # (cohort, bd) -> k -> pids
    for p in profiles:
        zone = zone_of(defn, p, workspace)
        starts = sorted(
            (period_no(e["ts"].astimezone(zone).date(), period), e["ts"], e["id"], e)
            for e in p["events"]
            if matches(defn["start"], e)
        )
        returns = {
            period_no(e["ts"].astimezone(zone).date(), period)
            for e in p["events"]
            if matches(defn["return"], e)
        }
        # The cohort's first start event (first ever, or the period's first) gives event breakdowns.
        if defn["mode"] == "first_time":
            cohorts = [(starts[0][0], starts[0][3])] if starts else []
        else:
            cohorts = [(c, next(s[3] for s in starts if s[0] == c)) for c in sorted({s[0] for s in starts})]
        for c, entry in cohorts:
            if not lo <= c <= hi:
                continue
            values = tuple(bd_value(dim, p, entry) for dim in defn["breakdown"])
            table[(c, values)][0].add(p["pid"])
            for k in range(1, nper):
                if c + k in returns:
                    table[(c, values)][k].add(p["pid"])
    del now_no
    return {key: [len(ks.get(k, ())) for k in range(nper)] for key, ks in table.items()}


# --- the tests --------------------------------------------------------------------------------------


def store(profiles_data):
    source, _ = Source.objects.get_or_create(name="analytics-property")
    profiles = []
    for raw in profiles_data:
        prof = Profile.objects.create(country=raw["country"], timezone=raw["timezone"])
        p = {"pid": prof.pk, "country": raw["country"], "timezone": raw["timezone"], "events": []}
        for i, (name, minutes, props) in enumerate(raw["events"]):
            ts = T0 + timedelta(minutes=minutes)
            ev = Event.objects.create(
                source=source,
                message_id=f"{prof.pk}-{i}",
                type="track",
                name=name,
                profile=prof,
                properties=props,
                timestamp=ts,
                received_at=ts,
                processed_at=ts,
            )
            p["events"].append({"id": ev.pk, "name": name, "ts": ts, "props": props})
        profiles.append(p)
    return profiles


class Rollback(Exception):
    pass


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.lists(profile_st, min_size=1, max_size=5), raw=funnel_st())
def test_funnel_sql_equals_plain_python(data, raw, settings_tz):
    try:
        with transaction.atomic():
            profiles = store(data)
            result = funnel_compute(definition=funnel_parse(raw))
            counts, medians, buckets, daily, groups = py_funnel(raw, profiles, settings_tz)
            assert [s["count"] for s in result["steps"]] == counts
            for step, med in zip(result["steps"], medians, strict=True):
                got = step["median_seconds_from_previous"]
                assert (got is None and med is None) or abs(got - med) < 1e-6, (got, med)
            assert [b["count"] for b in result["time_to_convert"]["buckets"]] == buckets
            got_daily = {
                date.fromisoformat(d["day"]): [d["entered"], d["converted"]]
                for d in result["daily"]
                if d["entered"]
            }
            assert got_daily == daily
            if raw["breakdown"]:
                got_groups = {
                    tuple(g["values"]): [s["count"] for s in g["steps"]] for g in result["breakdown"]
                }
                assert got_groups == groups
            raise Rollback
    except Rollback:
        pass


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.lists(profile_st, min_size=1, max_size=5), raw=retention_st())
def test_retention_sql_equals_plain_python(data, raw, settings_tz):
    now = datetime(2026, 4, 1, tzinfo=UTC)
    try:
        with transaction.atomic():
            profiles = store(data)
            result = retention_compute(definition=retention_parse(raw), now=now)
            expected = py_retention(raw, profiles, settings_tz, now)
            got = {}
            for row in result["cohorts"]:
                key = (row["period_no"], tuple(row["values"]))
                got[key] = [c["count"] if c["count"] is not None else 0 for c in row["cells"]]
            assert got == expected
            raise Rollback
    except Rollback:
        pass


@pytest.fixture
def settings_tz(settings):
    # A workspace zone with a half-hour offset, so workspace days differ from UTC days.
    settings.TIME_ZONE = "Asia/Kolkata"
    return "Asia/Kolkata"
