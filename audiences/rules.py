"""The audience rule language: its grammar, its validation and what a rule depends on.

A rule is JSON (see docs/audiences.md). `validate_rule` checks a rule completely before anything runs
and reports every problem at once, each named by its path in the rule, e.g.
`all[2].event.count.gte: must be a non-negative integer`. Paths put the form's name after the
rule's position (`all[2].event…`) so an operator can find the clause in the editor.

Errors stop a rule from being saved or run; warnings (an event name or trait never seen) do not,
because a rule may be written before the first such event arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tracking.conditions import (
    OPS,
    TIME_OPS,
    condition_validate,
    is_date_only,
    is_number,
    operator_validate,
    parse_iso,
    path_validate,
)

FORMS = ("all", "any", "not", "trait", "tag", "event", "sequence", "last_event", "audience", "consent")
COMPARATORS = ("gte", "gt", "lte", "lt", "eq")
CHANNELS = ("email", "sms", "whatsapp", "push", "webpush", "webhook")
MAX_DEPTH = 12
MAX_NODES = 200


@dataclass(frozen=True)
class RuleIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or 'rule'}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path or "rule", "message": self.message}


@dataclass
class RuleReport:
    errors: list[RuleIssue] = field(default_factory=list)
    warnings: list[RuleIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
        }


class RuleInvalid(ValueError):
    """A rule with errors was about to run or be saved; `.report` lists every error by path."""

    def __init__(self, report: RuleReport) -> None:
        self.report = report
        super().__init__("; ".join(str(e) for e in report.errors))


# --- values (the condition language itself is tracking.conditions) ---------------------------


def split_path(path: str) -> list[str]:
    return path.split(".") if path else []


def window_bounds(form: dict[str, Any], now: datetime) -> tuple[datetime | None, datetime | None]:
    """The [lower, upper] time bounds an event form looks at (None: unbounded on that side)."""
    if "within_days" in form:
        return now - timedelta(days=form["within_days"]), None
    if "between" in form:
        lo_raw, hi_raw = form["between"]
        lo, hi = parse_iso(lo_raw), parse_iso(hi_raw)
        assert lo is not None and hi is not None
        if is_date_only(hi_raw):
            # A date as the upper bound means the whole of that day.
            hi = hi + timedelta(days=1) - timedelta(microseconds=1)
        return lo, hi
    return None, None


# --- validation ---------------------------------------------------------------------------------


def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return f"{path}{part}"
    return f"{path}.{part}" if path else part


class _Validator:
    def __init__(self, *, audience_slug: str | None, catalogue: Any) -> None:
        self.report = RuleReport()
        self.audience_slug = audience_slug
        self.catalogue = catalogue
        self.nodes = 0
        self.referenced_audiences: list[tuple[str, str]] = []  # (path, slug)

    def error(self, path: str, message: str) -> None:
        self.report.errors.append(RuleIssue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.report.warnings.append(RuleIssue(path, message))

    def rule(self, rule: Any, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            self.error(path, f"a rule may have at most {MAX_NODES} clauses")
        if depth > MAX_DEPTH:
            self.error(path, f"rules may nest at most {MAX_DEPTH} levels deep")
            return
        if not isinstance(rule, dict):
            self.error(path, "must be an object with one of: " + ", ".join(FORMS))
            return
        forms = [f for f in FORMS if f in rule]
        if not forms:
            keys = ", ".join(sorted(map(str, rule))) or "nothing"
            self.error(path, f"unknown rule form (has {keys}); expected one of: " + ", ".join(FORMS))
            return
        if len(forms) > 1:
            self.error(path, f"one form per rule, found {', '.join(forms)}: wrap them in all/any")
            return
        form = forms[0]
        getattr(self, f"form_{form}")(rule, path, depth)

    def unknown_keys(self, rule: dict[str, Any], allowed: Iterable[str], path: str) -> None:
        for key in rule:
            if key not in allowed:
                self.error(_join(path, str(key)), "unknown key")

    # combinators
    def _combinator(self, rule: dict[str, Any], path: str, depth: int, form: str) -> None:
        self.unknown_keys(rule, (form,), path)
        children = rule[form]
        here = _join(path, form)
        if not isinstance(children, list) or not children:
            self.error(here, "must be a non-empty list of rules")
            return
        for i, child in enumerate(children):
            self.rule(child, f"{here}[{i}]", depth + 1)

    def form_all(self, rule: dict[str, Any], path: str, depth: int) -> None:
        self._combinator(rule, path, depth, "all")

    def form_any(self, rule: dict[str, Any], path: str, depth: int) -> None:
        self._combinator(rule, path, depth, "any")

    def form_not(self, rule: dict[str, Any], path: str, depth: int) -> None:
        self.unknown_keys(rule, ("not",), path)
        self.rule(rule["not"], _join(path, "not"), depth + 1)

    # profile forms
    def form_trait(self, rule: dict[str, Any], path: str, depth: int) -> None:
        here = _join(path, "trait")
        self.unknown_keys(rule, ("trait", "op", "value"), path)
        if self.path_ok(rule["trait"], here) and self.catalogue is not None:
            root = rule["trait"].split(".")[0]
            if not self.catalogue.trait_known(root):
                self.warn(here, f"no profile has a trait {root!r} yet")
        self.condition(rule, here)

    def form_tag(self, rule: dict[str, Any], path: str, depth: int) -> None:
        here = _join(path, "tag")
        self.unknown_keys(rule, ("tag",), path)
        if not isinstance(rule["tag"], str) or not rule["tag"].strip():
            self.error(here, "must be a tag name")

    def form_consent(self, rule: dict[str, Any], path: str, depth: int) -> None:
        here = _join(path, "consent")
        self.unknown_keys(rule, ("consent", "topic"), path)
        if rule["consent"] not in CHANNELS:
            self.error(here, "must be one of: " + ", ".join(CHANNELS))
        topic = rule.get("topic", "marketing")
        if not isinstance(topic, str) or not topic:
            self.error(_join(here, "topic"), "must be a topic name such as marketing")

    def form_audience(self, rule: dict[str, Any], path: str, depth: int) -> None:
        here = _join(path, "audience")
        self.unknown_keys(rule, ("audience",), path)
        slug = rule["audience"]
        if not isinstance(slug, str) or not slug:
            self.error(here, "must be an audience slug")
            return
        self.referenced_audiences.append((here, slug))

    # behaviour forms
    def event_name(self, name: Any, path: str) -> None:
        if not isinstance(name, str) or not name.strip():
            self.error(path, "must be an event name")
        elif self.catalogue is not None and not self.catalogue.event_known(name):
            self.warn(path, f"no event named {name!r} has been received yet")

    def window(self, rule: dict[str, Any], path: str, *, allow_between: bool = True) -> None:
        if "within_days" in rule and "between" in rule:
            self.error(_join(path, "between"), "give either within_days or between, not both")
        if "within_days" in rule:
            self.positive_int(rule["within_days"], _join(path, "within_days"))
        if "between" in rule:
            if not allow_between:
                self.error(_join(path, "between"), "unknown key")
                return
            here = _join(path, "between")
            pair = rule["between"]
            if not isinstance(pair, list) or len(pair) != 2:
                self.error(here, "must be a list of two ISO dates [from, to]")
                return
            parsed = []
            for i, v in enumerate(pair):
                d = parse_iso(v)
                if d is None:
                    self.error(f"{here}[{i}]", f"{v!r} is not an ISO 8601 date")
                parsed.append(d)
            if all(parsed) and parsed[0] > parsed[1]:
                self.error(here, "the start must not be after the end")

    def where(self, rule: dict[str, Any], path: str, *, windowed: bool) -> None:
        if "where" not in rule:
            return
        here = _join(path, "where")
        conds = rule["where"]
        if not isinstance(conds, list):
            self.error(here, "must be a list of conditions")
            return
        for i, cond in enumerate(conds):
            cpath = f"{here}[{i}]"
            for issue in condition_validate(cond=cond, path=cpath, subject="property"):
                self.error(issue.path, issue.message)
            if not isinstance(cond, dict):
                continue
            if cond.get("op") == "contains" and not windowed:
                # A substring search cannot use an index; bounded by a window it stays fast.
                self.error(
                    _join(cpath, "op"),
                    "contains on event properties needs a time window (within_days or between)",
                )

    def form_event(self, rule: dict[str, Any], path: str, depth: int) -> None:
        here = _join(path, "event")
        self.unknown_keys(rule, ("event", "where", "count", "sum", "within_days", "between"), path)
        self.event_name(rule["event"], here)
        self.window(rule, here)
        self.where(rule, here, windowed="within_days" in rule or "between" in rule)
        if "count" in rule:
            self.comparisons(rule["count"], _join(here, "count"), integers=True)
        if "sum" in rule:
            spath = _join(here, "sum")
            agg = rule["sum"]
            if not isinstance(agg, dict):
                self.error(spath, 'must be an object like {"property": "revenue", "gte": 100}')
            else:
                if "property" not in agg:
                    self.error(_join(spath, "property"), "is required")
                else:
                    self.path_ok(agg["property"], _join(spath, "property"))
                self.comparisons({k: v for k, v in agg.items() if k != "property"}, spath, integers=False)

    def comparisons(self, value: Any, path: str, *, integers: bool) -> None:
        if not isinstance(value, dict) or not value:
            self.error(path, "must be an object with one or more of: " + ", ".join(COMPARATORS))
            return
        for key, bound in value.items():
            kpath = _join(path, str(key))
            if key not in COMPARATORS:
                self.error(kpath, "unknown comparison; use one of: " + ", ".join(COMPARATORS))
            elif integers and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 0):
                self.error(kpath, "must be a non-negative integer")
            elif not integers and not is_number(bound):
                self.error(kpath, "must be a number")

    def form_sequence(self, rule: dict[str, Any], path: str, depth: int) -> None:
        here = _join(path, "sequence")
        self.unknown_keys(rule, ("sequence", "within_days"), path)
        steps = rule["sequence"]
        if not isinstance(steps, list) or len(steps) < 2:
            self.error(here, "must be a list of at least two steps")
            return
        windowed = "within_days" in rule
        if windowed:
            self.positive_int(rule["within_days"], _join(here, "within_days"))
        for i, step in enumerate(steps):
            spath = f"{here}[{i}]"
            if not isinstance(step, dict) or "event" not in step:
                self.error(spath, 'must be an object like {"event": NAME, "where": [...]}')
                continue
            self.unknown_keys(step, ("event", "where"), spath)
            self.event_name(step["event"], _join(spath, "event"))
            self.where(step, spath, windowed=windowed)

    def form_last_event(self, rule: dict[str, Any], path: str, depth: int) -> None:
        here = _join(path, "last_event")
        self.unknown_keys(rule, ("last_event", "where", "older_than_days", "within_days"), path)
        self.event_name(rule["last_event"], here)
        given = [k for k in ("older_than_days", "within_days") if k in rule]
        if len(given) != 1:
            self.error(here, "give exactly one of older_than_days or within_days")
        for key in given:
            self.positive_int(rule[key], _join(here, key))
        self.where(rule, here, windowed=True)

    # conditions (tracking.conditions)
    def path_ok(self, value: Any, path: str) -> bool:
        issues = path_validate(value=value, path=path)
        for issue in issues:
            self.error(issue.path, issue.message)
        return not issues

    def condition(self, cond: dict[str, Any], path: str) -> None:
        for issue in operator_validate(cond=cond, path=path):
            self.error(issue.path, issue.message)

    def positive_int(self, value: Any, path: str, *, allow_zero: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
            self.error(path, "must be a " + ("non-negative" if allow_zero else "positive") + " integer")


def validate_rule(
    rule: Any,
    *,
    audience_slug: str | None = None,
    check_catalogue: bool = True,
    audiences: dict[str, Any] | None = None,
) -> RuleReport:
    """Check a rule completely; never raises on bad input.

    `audience_slug` is the audience this rule belongs to (for cycle detection when it is edited);
    `audiences` maps slug → rule for the other audiences (loaded from the database when omitted).
    """
    catalogue = None
    if check_catalogue:
        from audiences.catalogue import Catalogue

        catalogue = Catalogue.load()
    v = _Validator(audience_slug=audience_slug, catalogue=catalogue)
    v.rule(rule, "", 0)
    if v.referenced_audiences:
        _check_references(v, audiences)
    return v.report


def _check_references(v: _Validator, audiences: dict[str, Any] | None) -> None:
    if audiences is None:
        from audiences.models import Audience

        audiences = {slug: r for slug, r in Audience.objects.values_list("slug", "rule")}
    graph = {slug: audience_references(r) for slug, r in audiences.items()}
    for path, slug in v.referenced_audiences:
        if slug == v.audience_slug:
            v.error(path, "an audience cannot include itself")
        elif slug not in graph:
            v.error(path, f"no audience with slug {slug!r}")
        elif v.audience_slug and _reaches(graph, slug, v.audience_slug):
            v.error(
                path, f"audience {slug!r} refers back to {v.audience_slug!r}: audiences may not form a cycle"
            )
        elif _cycle_from(graph, slug):
            v.error(path, f"audience {slug!r} is part of a cycle of audience references")


def _reaches(graph: dict[str, set[str]], start: str, target: str) -> bool:
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return False


def _cycle_from(graph: dict[str, set[str]], start: str) -> bool:
    return any(_reaches(graph, child, start) for child in graph.get(start, ()))


def audience_references(rule: Any) -> set[str]:
    """Slugs of the audiences a rule refers to directly."""
    found: set[str] = set()
    for node in walk(rule):
        if isinstance(node.get("audience"), str):
            found.add(node["audience"])
    return found


def walk(rule: Any) -> Iterable[dict[str, Any]]:
    """Every rule node (not conditions) in a rule, depth first; tolerant of malformed input."""
    if not isinstance(rule, dict):
        return
    yield rule
    for key in ("all", "any"):
        if isinstance(rule.get(key), list):
            for child in rule[key]:
                yield from walk(child)
    if "not" in rule:
        yield from walk(rule["not"])


@dataclass
class Dependencies:
    """What can change a rule's answer: which events, whether traits, tags, consent or time."""

    events: set[str] = field(default_factory=set)
    traits: bool = False
    tags: bool = False
    consent: bool = False
    time: bool = False
    static_audiences: set[str] = field(default_factory=set)

    def merge(self, other: Dependencies) -> None:
        self.events |= other.events
        self.traits |= other.traits
        self.tags |= other.tags
        self.consent |= other.consent
        self.time |= other.time
        self.static_audiences |= other.static_audiences


def rule_dependencies(
    rule: Any, *, audiences: dict[str, tuple[str, Any]], _seen: frozenset = frozenset()
) -> Dependencies:
    """Dependencies of a rule, following references (`audiences`: slug → (kind, rule))."""
    deps = Dependencies()
    for node in walk(rule):
        if "trait" in node:
            deps.traits = True
            deps.time |= node.get("op") in TIME_OPS
        elif "tag" in node:
            deps.tags = True
        elif "consent" in node:
            deps.consent = True
        elif "event" in node or "last_event" in node:
            deps.events.add(node.get("event") or node.get("last_event"))
            conds = node.get("where") or []
            deps.time |= "within_days" in node or "last_event" in node
            deps.time |= any(isinstance(c, dict) and c.get("op") in TIME_OPS for c in conds)
        elif "sequence" in node:
            for step in node["sequence"] if isinstance(node["sequence"], list) else []:
                if isinstance(step, dict):
                    deps.events.add(step.get("event"))
            deps.time |= "within_days" in node
        elif "audience" in node:
            slug = node["audience"]
            if slug in _seen or slug not in audiences:
                continue
            kind, sub = audiences[slug]
            if kind == "static":
                deps.static_audiences.add(slug)
            else:
                deps.merge(rule_dependencies(sub, audiences=audiences, _seen=_seen | {slug}))
    deps.events.discard(None)  # type: ignore[arg-type]
    return deps


__all__ = [
    "OPS",
    "RuleInvalid",
    "RuleIssue",
    "RuleReport",
    "validate_rule",
    "parse_iso",
    "rule_dependencies",
    "audience_references",
]
