"""Random rules over random small datasets: the SQL answer equals a plain Python evaluation.

The evaluator below is written from the language's description (docs/audiences.md), not from
the compiler, and reads every profile and event into memory, which is fine for a handful. Each
condition is also answered by the condition language's own Python evaluator
(tracking.conditions.condition_matches, which journeys use on live events): it must agree with this
evaluator, so with the SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiences.compiler import profiles_matching
from audiences.models import ComputedTag
from audiences.testing import event_add, profile_add
from tracking.conditions import condition_matches
from tracking.models import Consent, Event, Profile

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EVENT_NAMES = ["Viewed", "Ordered", "Clicked"]
TAGS = ["vip", "new", "sale"]
WORDS = ["red", "blue", "green", "redwood"]
DATES = [
    "2025-05-30",
    "2025-05-01T08:00:00Z",
    "2025-01-15T10:30:00+02:00",
    "2024-12-31 23:59",
    "2025-05-31T20:00:00.5Z",
    "2025-05-30T10:00",
]

# --- data ---------------------------------------------------------------------------------------

scalar = st.one_of(st.integers(-3, 12), st.sampled_from(WORDS), st.booleans(), st.sampled_from(DATES))
traits_st = st.fixed_dictionaries(
    {},
    optional={
        "n": st.one_of(st.integers(0, 10), st.floats(0, 10, allow_nan=False).map(lambda f: round(f, 2))),
        "word": st.sampled_from([*WORDS, "US", "12"]),
        "flag": st.booleans(),
        "when": st.sampled_from(DATES),
        "any": scalar,
        "addr": st.fixed_dictionaries({}, optional={"country": st.sampled_from(["US", "DE", "FR"])}),
        "list": st.lists(st.one_of(st.sampled_from(WORDS), st.integers(0, 5)), max_size=3),
    },
)
props_st = st.fixed_dictionaries(
    {},
    optional={
        "revenue": st.one_of(st.integers(0, 100), st.sampled_from([9.99, 0.5, "12"])),
        "word": st.sampled_from(WORDS),
        "products": st.lists(st.fixed_dictionaries({"sku": st.sampled_from(["A1", "B2", "C3"])}), max_size=3),
        "when": st.sampled_from(DATES),
    },
)
event_st = st.tuples(st.sampled_from(EVENT_NAMES), st.integers(0, 24 * 60), props_st)  # hours ago
profile_st = st.fixed_dictionaries(
    {
        "traits": traits_st,
        "tags": st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
        "computed": st.lists(st.sampled_from(["rfm:champions", "vip"]), max_size=1),
        "consent": st.sampled_from([None, "granted", "withdrawn"]),
        "events": st.lists(event_st, max_size=6),
    }
)

# --- rules ----------------------------------------------------------------------------------------

TRAIT_PATHS = {
    "number": ["n", "any", "list"],
    "string": ["word", "any", "list", "addr.country"],
    "date": ["when", "any"],
    "bool": ["flag", "any"],
    "all": ["n", "word", "flag", "when", "any", "addr.country", "addr", "list", "missing"],
}
PROP_PATHS = {
    "number": ["revenue"],
    "string": ["word", "products.sku", "revenue"],
    "date": ["when"],
    "bool": ["word"],
    "all": ["revenue", "word", "products", "products.sku", "when", "missing"],
}


def cond_st(paths):
    def p(kind):
        return st.sampled_from(paths[kind])

    number = st.one_of(st.integers(-1, 11), st.sampled_from([0.5, 9.99]))
    word = st.sampled_from([*WORDS, "US", "DE", "A1", "B2", "12"])
    date = st.sampled_from(DATES)
    return st.one_of(
        st.tuples(p("number"), st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]), number),
        st.tuples(p("number"), st.sampled_from(["in", "not_in"]), st.lists(number, min_size=1, max_size=3)),
        st.tuples(p("number"), st.just("between"), st.tuples(number, number).map(sorted_pair)),
        st.tuples(p("string"), st.sampled_from(["eq", "neq"]), word),
        st.tuples(p("string"), st.sampled_from(["in", "not_in"]), st.lists(word, min_size=1, max_size=3)),
        st.tuples(
            p("string"),
            st.sampled_from(["contains", "starts_with"]),
            st.sampled_from(["re", "red", "e", "A", "1"]),
        ),
        st.tuples(p("bool"), st.sampled_from(["eq", "neq"]), st.booleans()),
        st.tuples(p("all"), st.sampled_from(["exists", "not_exists"]), st.none()),
        st.tuples(p("date"), st.sampled_from(["before", "after", "gt", "gte", "lt", "lte"]), date),
        st.tuples(p("date"), st.just("between"), st.tuples(date, date).map(sorted_pair)),
        st.tuples(
            p("date"), st.sampled_from(["within_last_days", "more_than_days_ago"]), st.integers(0, 200)
        ),
    )


def sorted_pair(pair):
    a, b = pair
    if isinstance(a, str):
        return sorted([a, b], key=parse)
    return sorted([a, b])


def as_cond(t, key):
    path, op, value = t
    out = {key: path, "op": op}
    if value is not None:
        out["value"] = list(value) if isinstance(value, tuple | list) else value
    return out


comparison = st.dictionaries(
    st.sampled_from(["gte", "gt", "lte", "lt", "eq"]), st.integers(0, 3), min_size=1, max_size=2
)
event_rule = st.builds(
    lambda name, where, count, total, window: {
        "event": name,
        **({"where": where} if where else {}),
        **({"count": count} if count else {}),
        **({"sum": total} if total else {}),
        **window,
    },
    st.sampled_from(EVENT_NAMES),
    st.lists(cond_st(PROP_PATHS).map(lambda t: as_cond(t, "property")), max_size=2),
    st.one_of(st.none(), comparison),
    st.one_of(
        st.none(),
        st.builds(
            lambda op, v: {"property": "revenue", op: v},
            st.sampled_from(["gte", "lt", "eq"]),
            st.sampled_from([0, 10, 50.5, 100]),
        ),
    ),
    st.one_of(
        st.just({"within_days": 14}),
        st.just({"within_days": 40}),
        st.just({"between": ["2025-04-20", "2025-05-25"]}),
    ),
)
leaf = st.one_of(
    cond_st(TRAIT_PATHS).map(lambda t: as_cond(t, "trait")),
    st.builds(lambda t: {"tag": t}, st.sampled_from([*TAGS, "rfm:champions"])),
    event_rule,
    st.builds(
        lambda a, b, d: {"sequence": [{"event": a}, {"event": b}], **({"within_days": d} if d else {})},
        st.sampled_from(EVENT_NAMES),
        st.sampled_from(EVENT_NAMES),
        st.sampled_from([None, 10, 30]),
    ),
    st.builds(
        lambda n, k, d: {"last_event": n, k: d},
        st.sampled_from(EVENT_NAMES),
        st.sampled_from(["older_than_days", "within_days"]),
        st.integers(1, 50),
    ),
    st.just({"consent": "email"}),
)
rule_st = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=5,
)

# --- the independent evaluator ----------------------------------------------------------------------


def parse(value):
    import re

    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?", value
    ):
        return None
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def is_num(v):
    return isinstance(v, int | float) and not isinstance(v, bool)


def leaves(doc, path):
    """Values at a dotted path; lists along the way (and at the end) stand for each element."""
    if not path:
        return list(doc) if isinstance(doc, list) else [doc]
    head, rest = path[0], path[1:]
    found = []
    for item in doc if isinstance(doc, list) else [doc]:
        if isinstance(item, dict) and head in item:
            found += leaves(item[head], rest)
    return found


def equal(a, b):
    if is_num(a) and is_num(b):
        return a == b
    return type(a) is type(b) and a == b


def value_holds(op, value, x):
    if op == "exists":
        return x is not None
    if op == "eq":
        return equal(x, value)
    if op == "in":
        return any(equal(x, v) for v in value)
    if op == "contains":
        return isinstance(x, str) and value in x
    if op == "starts_with":
        return isinstance(x, str) and x.startswith(value)
    if op in ("gt", "gte", "lt", "lte", "between") and is_num(value if op != "between" else value[0]):
        if not is_num(x):
            return False
        if op == "between":
            return value[0] <= x <= value[1]
        return {"gt": x > value, "gte": x >= value, "lt": x < value, "lte": x <= value}[op]
    d = parse(x)
    if d is None:
        return False
    if op == "between":
        lo, hi = parse(value[0]), parse(value[1])
        if len(value[1]) == 10:
            hi = hi + timedelta(days=1) - timedelta(microseconds=1)
        return lo <= d <= hi
    if op in ("gt", "after"):
        return d > parse(value)
    if op == "gte":
        return d >= parse(value)
    if op in ("lt", "before"):
        return d < parse(value)
    if op == "lte":
        return d <= parse(value)
    if op == "within_last_days":
        return NOW - timedelta(days=value) <= d <= NOW
    if op == "more_than_days_ago":
        return d < NOW - timedelta(days=value)
    raise AssertionError(op)


def cond_holds(doc, cond, key):
    op = cond["op"]
    negate = op in ("neq", "not_in", "not_exists")
    base = {"neq": "eq", "not_in": "in", "not_exists": "exists"}.get(op, op)
    hit = any(value_holds(base, cond.get("value"), x) for x in leaves(doc, cond[key].split(".")))
    answer = hit != negate
    assert condition_matches(cond=cond, props=doc, now=NOW, subject=key) == answer, (cond, doc)
    return answer


def compare(bounds, n):
    ops = {"gte": n >= bounds.get("gte", n), "gt": True, "lte": True, "lt": True, "eq": True}
    for op, b in bounds.items():
        ops[op] = {"gte": n >= b, "gt": n > b, "lte": n <= b, "lt": n < b, "eq": n == b}[op]
    return all(ops.values())


def events_of(p, name, where):
    return [
        e
        for e in p["events"]
        if e.name == name and all(cond_holds(e.properties, c, "property") for c in where)
    ]


def evaluate(rule, p):
    if "all" in rule:
        return all(evaluate(r, p) for r in rule["all"])
    if "any" in rule:
        return any(evaluate(r, p) for r in rule["any"])
    if "not" in rule:
        return not evaluate(rule["not"], p)
    if "trait" in rule:
        return cond_holds(p["traits"], rule, "trait")
    if "tag" in rule:
        return rule["tag"] in p["tags"] or rule["tag"] in p["computed"]
    if "consent" in rule:
        return p["consent"] == "granted"
    if "event" in rule:
        evs = events_of(p, rule["event"], rule.get("where", []))
        if "within_days" in rule:
            evs = [e for e in evs if e.timestamp >= NOW - timedelta(days=rule["within_days"])]
        if "between" in rule:
            lo, hi = (
                parse(rule["between"][0]),
                parse(rule["between"][1]) + timedelta(days=1) - timedelta(microseconds=1),
            )
            evs = [e for e in evs if lo <= e.timestamp <= hi]
        ok = compare(rule.get("count", {"gte": 1}), len(evs))
        if "sum" in rule:
            total = sum(
                (Decimal(str(e.properties["revenue"])) for e in evs if is_num(e.properties.get("revenue"))),
                Decimal(0),
            )
            ok = ok and compare(
                {k: Decimal(str(v)) for k, v in rule["sum"].items() if k != "property"}, total
            )
        return ok
    if "last_event" in rule:
        evs = events_of(p, rule["last_event"], rule.get("where", []))
        if not evs:
            return False
        last = max(e.timestamp for e in evs)
        if "older_than_days" in rule:
            return last < NOW - timedelta(days=rule["older_than_days"])
        return last >= NOW - timedelta(days=rule["within_days"])
    if "sequence" in rule:
        start = NOW - timedelta(days=rule["within_days"]) if "within_days" in rule else None
        times = [None]
        for i, step in enumerate(rule["sequence"]):
            evs = sorted(e.timestamp for e in events_of(p, step["event"], step.get("where", [])))
            if i == 0:
                evs = [t for t in evs if start is None or t >= start]
                nxt = evs[0] if evs else None
            else:
                nxt = next((t for t in evs if t > times[-1]), None)
            if nxt is None:
                return False
            times.append(nxt)
        return True
    raise AssertionError(rule)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(people=st.lists(profile_st, min_size=1, max_size=8), rules=st.lists(rule_st, min_size=1, max_size=6))
def test_sql_answer_equals_python_evaluation(people, rules):
    with transaction.atomic():
        loaded = []
        for spec in people:
            profile = profile_add(traits=spec["traits"], tags=spec["tags"])
            for name in spec["computed"]:
                ComputedTag.objects.create(profile=profile, name=name, family="x", computed_at=NOW)
            if spec["consent"]:
                Consent.objects.create(
                    profile=profile,
                    channel="email",
                    topic="marketing",
                    status=spec["consent"],
                    changed_at=NOW,
                    method="t",
                )
            for name, hours_ago, props in spec["events"]:
                event_add(profile=profile, name=name, at=NOW - timedelta(hours=hours_ago), properties=props)
            loaded.append(
                {
                    "pk": profile.pk,
                    "traits": Profile.objects.get(pk=profile.pk).traits,
                    "tags": spec["tags"],
                    "computed": spec["computed"],
                    "consent": spec["consent"],
                    "events": list(Event.objects.filter(profile=profile)),
                }
            )
        for rule in rules:
            expected = {p["pk"] for p in loaded if evaluate(rule, p)}
            got = set(profiles_matching(rule, now=NOW).values_list("pk", flat=True))
            assert got == expected, rule
            # Incremental re-evaluation of some profiles compiles differently (per-profile probes).
            some = [p["pk"] for p in loaded[::2]]
            assert set(profiles_matching(rule, now=NOW, profile_ids=some).values_list("pk", flat=True)) == (
                expected & set(some)
            ), rule
        transaction.set_rollback(True)
