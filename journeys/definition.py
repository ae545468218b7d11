"""The journey definition language: validation before publishing, and helpers to read a definition.

A definition is JSON (see docs/journeys.md). `definition_validate` reports every problem at once, each
with the path of the offending part ("stages[2].transitions[0].to"), and never raises on bad input.
Rules (`entry_rule`, `if`) are the audience rule language, checked by audiences.rules; `where`
conditions are tracking's condition language (tracking.conditions), checked by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import apps

from journeys.schedule import cron_parse
from tracking.conditions import condition_validate

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
AT_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
TRANSITION_KINDS = ("on_event", "after", "on_audience_entered", "on_onsite", "if", "else")
# Decided once, on entering the stage: a branch is a stage of "if" transitions ending in an "else".
INSTANT_KINDS = ("if", "else")
ACTION_KINDS = ("send", "tag", "set_trait", "webhook", "onsite")
# Transitions that wait for time or behaviour; a loop made only of the others would spin forever.
WAITING_KINDS = ("on_event", "after", "on_audience_entered", "on_onsite")
# "on_onsite" holds at once when the interaction happened earlier in the run, so a loop through it
# can spin too: for the loop check it counts as instant.
LOOP_INSTANT_KINDS = ("if", "else", "on_onsite")
# What a run can wait for a queued on-site message to be: the interaction (journeys.onsite.models).
ONSITE_DID = {"viewed": "view", "clicked": "click", "submitted": "submit"}
# Branches close with an "else" after at least one of these.
ELSE_FOLLOWS = ("if", "on_onsite")


@dataclass(frozen=True)
class DefinitionIssue:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class DefinitionReport:
    errors: list[DefinitionIssue] = field(default_factory=list)
    warnings: list[DefinitionIssue] = field(default_factory=list)
    # Whether checks may read the database (templates, audiences, the event catalogue).
    use_database: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, path: str, message: str) -> None:
        self.errors.append(DefinitionIssue(path, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": [i.as_dict() for i in self.errors],
            "warnings": [i.as_dict() for i in self.warnings],
        }


class DefinitionInvalid(Exception):
    def __init__(self, report: DefinitionReport):
        self.report = report
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in report.errors))


def stages_by_key(definition: dict) -> dict[str, dict]:
    return {s["key"]: s for s in definition.get("stages", []) if isinstance(s, dict) and "key" in s}


def first_stage_key(definition: dict) -> str:
    return definition["stages"][0]["key"]


def transition_kind(transition: dict) -> str | None:
    return next((k for k in TRANSITION_KINDS if k in transition), None)


def onsite_event_match(body: dict) -> dict:
    """An "on_onsite" condition as the event match the engine checks for every event condition
    (tracking.conditions.event_matches): on-site interactions come back as tracking events on the
    profile ("Onsite Message Viewed", … with the property message_id)."""
    from journeys.onsite.models import EVENT_NAMES

    return {
        "event": EVENT_NAMES[ONSITE_DID[body["did"]]],
        "where": [{"property": "message_id", "op": "eq", "value": body["message"]}],
    }


def stage_successors(stage: dict) -> list[str]:
    targets = [t.get("to") for t in stage.get("transitions", []) if isinstance(t, dict)]
    targets += [b.get("to") for b in stage.get("split", []) if isinstance(b, dict)]
    return [t for t in targets if isinstance(t, str)]


def definition_validate(definition: Any, *, check_references: bool = True) -> DefinitionReport:
    """Every error in a definition, by path. References to templates and audiences are checked in the DB."""
    report = DefinitionReport(use_database=check_references)
    if not isinstance(definition, dict):
        report.error("", "must be a JSON object")
        return report
    refs = _References()
    _check_header(definition, report, refs)
    stages = definition.get("stages")
    if not isinstance(stages, list) or not stages:
        report.error("stages", "must be a non-empty list of stages")
    else:
        _check_stages(stages, report, refs)
    if check_references:
        _check_references(refs, report)
    return report


@dataclass
class _References:
    templates: list[tuple[str, str]] = field(default_factory=list)  # (path, slug)
    audiences: list[tuple[str, str]] = field(default_factory=list)
    endpoints: list[tuple[str, Any]] = field(default_factory=list)
    onsite_messages: list[tuple[str, Any]] = field(default_factory=list)  # (path, message id)


def _check_header(d: dict, report: DefinitionReport, refs: _References) -> None:
    slug = d.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        report.error("slug", "must be lowercase letters, digits, '-' or '_' (at most 100)")
    if not isinstance(d.get("name"), str) or not d.get("name", "").strip():
        report.error("name", "is required")
    known = {
        "slug",
        "name",
        "entry",
        "entry_rule",
        "reentry",
        "exit_when",
        "goal",
        "holdout_percent",
        "stages",
    }
    for key in d:
        if key not in known:
            report.error(key, f"unknown key (expected one of {', '.join(sorted(known))})")

    entry = d.get("entry")
    if not isinstance(entry, dict):
        report.error(
            "entry", 'must be {"event": …}, {"audience_entered": …} or {"schedule": …, "audience": …}'
        )
    elif "event" in entry:
        _check_event_match(entry, "entry", report)
    elif "audience_entered" in entry:
        _check_slug_ref(entry.get("audience_entered"), "entry.audience_entered", report, refs.audiences)
    elif "schedule" in entry:
        try:
            cron_parse(entry["schedule"])
        except ValueError as exc:
            report.error("entry.schedule", str(exc))
        _check_slug_ref(entry.get("audience"), "entry.audience", report, refs.audiences)
        tz = entry.get("timezone", "recipient")
        if tz != "recipient" and not _zone_ok(tz):
            report.error("entry.timezone", f'must be "recipient" or an IANA time zone, not {tz!r}')
    else:
        report.error("entry", 'must contain "event", "audience_entered" or "schedule"')

    if "entry_rule" in d:
        _check_rule(d["entry_rule"], "entry_rule", report, refs)

    reentry = d.get("reentry", "never")
    if isinstance(reentry, dict):
        days = reentry.get("cooldown_days")
        if set(reentry) != {"cooldown_days"} or not _is_int(days) or days < 0:
            report.error("reentry.cooldown_days", "must be a non-negative integer")
    elif reentry not in ("never", "after_exit"):
        report.error("reentry", 'must be "never", "after_exit" or {"cooldown_days": N}')

    exit_when = d.get("exit_when", [])
    if not isinstance(exit_when, list):
        report.error("exit_when", "must be a list")
    else:
        for i, cond in enumerate(exit_when):
            path = f"exit_when[{i}]"
            if isinstance(cond, dict) and "event" in cond:
                _check_event_match(cond, path, report)
            elif isinstance(cond, dict) and "audience_exited" in cond:
                _check_slug_ref(
                    cond.get("audience_exited"), f"{path}.audience_exited", report, refs.audiences
                )
            else:
                report.error(path, 'must be {"event": …, "where": […]} or {"audience_exited": SLUG}')

    goal = d.get("goal")
    if goal is not None:
        if not isinstance(goal, dict) or "event" not in goal:
            report.error("goal", 'must be {"event": NAME, "where": […], "within_days": N}')
        else:
            _check_event_match(goal, "goal", report, extra={"within_days"})
            days = goal.get("within_days")
            if not _is_int(days) or days < 1:
                report.error("goal.within_days", "must be a positive integer")

    holdout = d.get("holdout_percent", 0)
    if not isinstance(holdout, int | float) or isinstance(holdout, bool) or not 0 <= holdout <= 100:
        report.error("holdout_percent", "must be a number from 0 to 100")


def _check_stages(stages: list, report: DefinitionReport, refs: _References) -> None:
    keys: dict[str, int] = {}
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict):
            report.error(f"stages[{i}]", "must be an object")
            continue
        key = stage.get("key")
        if not isinstance(key, str) or not SLUG_RE.match(key):
            report.error(f"stages[{i}].key", "must be lowercase letters, digits, '-' or '_'")
        elif key in keys:
            report.error(f"stages[{i}].key", f"duplicate stage key {key!r} (also stages[{keys[key]}])")
        else:
            keys[key] = i

    for i, stage in enumerate(stages):
        if isinstance(stage, dict):
            _check_stage(stage, f"stages[{i}]", keys, report, refs)

    graph = {
        k: [t for t in stage_successors(stages[i]) if t in keys]
        for k, i in keys.items()
        if isinstance(stages[i], dict)
    }
    if not graph:
        return
    start = next(iter(keys))
    reachable = _reachable(start, graph)
    for key, i in keys.items():
        if key not in reachable:
            report.error(f"stages[{i}]", f"stage {key!r} is unreachable from the first stage {start!r}")
    _check_spin_loops(stages, keys, report)


def _check_stage(stage: dict, path: str, keys: dict[str, int], report: DefinitionReport, refs) -> None:
    known = {"key", "name", "actions", "transitions", "split", "exit"}
    for k in stage:
        if k not in known:
            report.error(f"{path}.{k}", f"unknown key (expected one of {', '.join(sorted(known))})")
    is_exit = stage.get("exit") is True
    if "exit" in stage and not isinstance(stage["exit"], bool):
        report.error(f"{path}.exit", "must be true or false")
    actions = stage.get("actions", [])
    if not isinstance(actions, list):
        report.error(f"{path}.actions", "must be a list")
    else:
        for j, action in enumerate(actions):
            _check_action(action, f"{path}.actions[{j}]", report, refs)

    transitions = stage.get("transitions", [])
    split = stage.get("split")
    if split is not None and transitions:
        report.error(path, 'a stage has either "split" or "transitions", not both')
    if is_exit and (transitions or split):
        report.error(path, "an exit stage has no transitions or split")
    if not isinstance(transitions, list):
        report.error(f"{path}.transitions", "must be a list")
        transitions = []
    for j, t in enumerate(transitions):
        _check_transition(t, f"{path}.transitions[{j}]", keys, report, refs)
    _check_branch(transitions, path, stage.get("key"), report)
    if split is not None:
        _check_split(split, f"{path}.split", keys, report)
    if not is_exit and not transitions and not split:
        report.error(path, 'stage has no way out: add transitions or a split, or mark it "exit": true')


def _check_action(action: Any, path: str, report: DefinitionReport, refs: _References) -> None:
    if not isinstance(action, dict) or len(action) != 1 or next(iter(action)) not in ACTION_KINDS:
        report.error(path, f"must be an object with exactly one of {', '.join(ACTION_KINDS)}")
        return
    kind, body = next(iter(action.items()))
    if kind == "send":
        if not isinstance(body, dict):
            report.error(f"{path}.send", 'must be {"channel": …, "template": SLUG, "topic": …}')
            return
        channel = body.get("channel")
        if channel not in _channels():
            report.error(f"{path}.send.channel", f"must be one of {', '.join(_channels())}")
        _check_slug_ref(body.get("template"), f"{path}.send.template", report, refs.templates)
        topic = body.get("topic", "marketing")
        if not isinstance(topic, str) or not topic:
            report.error(f"{path}.send.topic", "must be a non-empty string")
        if "data" in body and not isinstance(body["data"], dict):
            report.error(f"{path}.send.data", "must be an object")
    elif kind == "tag":
        if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ("add", "remove"):
            report.error(f"{path}.tag", 'must be {"add": NAME} or {"remove": NAME}')
        elif not isinstance(next(iter(body.values())), str) or not next(iter(body.values())):
            report.error(f"{path}.tag.{next(iter(body))}", "must be a non-empty tag name")
    elif kind == "set_trait":
        if not isinstance(body, dict) or not body:
            report.error(f"{path}.set_trait", 'must be {"trait.path": value, …}')
        else:
            for name in body:
                if not name or any(not part for part in name.split(".")):
                    report.error(f"{path}.set_trait", f"invalid trait path {name!r}")
    elif kind == "webhook":
        if not isinstance(body, dict) or not _is_int(body.get("endpoint")):
            report.error(f"{path}.webhook.endpoint", "must be a partner endpoint id (integer)")
        else:
            refs.endpoints.append((f"{path}.webhook.endpoint", body["endpoint"]))
            if "payload" in body and not isinstance(body["payload"], dict):
                report.error(f"{path}.webhook.payload", "must be an object")
    elif kind == "onsite":
        if not isinstance(body, dict):
            report.error(f"{path}.onsite", 'must be {"message": ID, "expires_days": N}')
            return
        for k in body:
            if k not in ("message", "expires_days"):
                report.error(f"{path}.onsite.{k}", "unknown key (expected message, expires_days)")
        _check_onsite_message(body.get("message"), f"{path}.onsite.message", report, refs)
        if "expires_days" in body:
            days = body["expires_days"]
            if not _is_int(days) or not 1 <= days <= 365:
                report.error(f"{path}.onsite.expires_days", "must be a whole number of days from 1 to 365")


def _check_transition(t: Any, path: str, keys: dict[str, int], report: DefinitionReport, refs) -> None:
    if not isinstance(t, dict):
        report.error(path, "must be an object")
        return
    _check_target(t.get("to"), f"{path}.to", keys, report)
    present = [k for k in TRANSITION_KINDS if k in t]
    if len(present) != 1:
        report.error(path, f"must have exactly one of {', '.join(TRANSITION_KINDS)}")
        return
    kind = present[0]
    body = t[kind]
    if kind == "on_event":
        if not isinstance(body, dict) or "event" not in body:
            report.error(f"{path}.on_event", 'must be {"event": NAME, "where": […]}')
        else:
            _check_event_match(body, f"{path}.on_event", report)
    elif kind == "after":
        _check_after(body, f"{path}.after", report)
    elif kind == "on_audience_entered":
        _check_slug_ref(body, f"{path}.on_audience_entered", report, refs.audiences)
    elif kind == "on_onsite":
        if not isinstance(body, dict):
            report.error(f"{path}.on_onsite", 'must be {"message": ID, "did": "viewed|clicked|submitted"}')
            return
        for k in body:
            if k not in ("message", "did"):
                report.error(f"{path}.on_onsite.{k}", "unknown key (expected message, did)")
        _check_onsite_message(body.get("message"), f"{path}.on_onsite.message", report, refs)
        if body.get("did") not in ONSITE_DID:
            report.error(f"{path}.on_onsite.did", f"must be one of {', '.join(ONSITE_DID)}")
    elif kind == "else":
        if body is not True:
            report.error(f"{path}.else", "must be true")
    else:
        _check_rule(body, f"{path}.if", report, refs)


def _check_branch(transitions: list, path: str, key: Any, report: DefinitionReport) -> None:
    """An "else" closes a branch: one, last, after an "if" (or an "on_onsite", which a branch decides
    on entering too). A branch of only "if"s with nothing that waits leaves the runs no rule matches
    in the stage forever: a warning that names the stage."""
    kinds = [transition_kind(t) if isinstance(t, dict) else None for t in transitions]
    elses = [j for j, k in enumerate(kinds) if k == "else"]
    for j in elses:
        if not any(k in ELSE_FOLLOWS for k in kinds[:j]):
            report.error(
                f"{path}.transitions[{j}]", 'an "else" follows at least one "if" or "on_onsite" transition'
            )
        elif j != len(kinds) - 1:
            report.error(f"{path}.transitions[{j}]", 'the "else" is the last transition of a branch')
    if len(elses) > 1:
        report.error(f"{path}.transitions[{elses[1]}]", 'a branch has one "else"')
    if "if" in kinds and not elses and not any(k in WAITING_KINDS for k in kinds):
        report.warnings.append(
            DefinitionIssue(
                path,
                f"branch {key!r} has no else: runs that match none of its rules wait in {key!r} "
                'forever (add an "else" transition)',
            )
        )


def _check_after(body: Any, path: str, report: DefinitionReport) -> None:
    if not isinstance(body, dict):
        report.error(path, 'must be {"days"|"hours"|"minutes": N, "at": "HH:MM"}')
        return
    units = [u for u in ("days", "hours", "minutes") if u in body]
    if not units:
        report.error(path, 'needs one of "days", "hours" or "minutes"')
    for u in units:
        if not _is_int(body[u]) or body[u] < 0:
            report.error(f"{path}.{u}", "must be a non-negative integer")
    for k in body:
        if k not in ("days", "hours", "minutes", "at"):
            report.error(f"{path}.{k}", "unknown key")
    if "at" in body and (not isinstance(body["at"], str) or not AT_RE.match(body["at"])):
        report.error(f"{path}.at", 'must be a local time "HH:MM" (24-hour)')


def _check_split(split: Any, path: str, keys: dict[str, int], report: DefinitionReport) -> None:
    if not isinstance(split, list) or len(split) < 2:
        report.error(path, "must list at least two branches")
        return
    total = 0
    for j, branch in enumerate(split):
        if not isinstance(branch, dict):
            report.error(f"{path}[{j}]", 'must be {"to": STAGE, "weight": N}')
            continue
        _check_target(branch.get("to"), f"{path}[{j}].to", keys, report)
        weight = branch.get("weight")
        if not _is_int(weight) or weight <= 0:
            report.error(f"{path}[{j}].weight", "must be a positive integer")
        else:
            total += weight
    if total and total != 100:
        report.error(path, f"weights must add up to 100 (they add up to {total})")


def _check_target(to: Any, path: str, keys: dict[str, int], report: DefinitionReport) -> None:
    if not isinstance(to, str) or not to:
        report.error(path, "must name a stage")
    elif to not in keys:
        report.error(path, f"unknown stage {to!r}")


def _check_event_match(body: dict, path: str, report: DefinitionReport, extra: Iterable[str] = ()) -> None:
    name = body.get("event")
    if not isinstance(name, str) or not name.strip():
        report.error(f"{path}.event", "must be a non-empty event name")
        return
    allowed = {"event", "where", *extra}
    for k in body:
        if k not in allowed:
            report.error(f"{path}.{k}", "unknown key")
    where = body.get("where", [])
    if not isinstance(where, list):
        report.error(f"{path}.where", "must be a list of conditions")
        return
    for i, cond in enumerate(where):
        for issue in condition_validate(cond=cond, path=f"{path}.where[{i}]"):
            report.error(issue.path, issue.message)


def _check_rule(rule: Any, path: str, report: DefinitionReport, refs) -> None:
    from audiences.rules import validate_rule

    result = validate_rule(rule, check_catalogue=report.use_database)
    for issues, bucket in ((result.errors, report.errors), (result.warnings, report.warnings)):
        for issue in issues:
            sub = issue.path or ""
            bucket.append(DefinitionIssue(f"{path}.{sub}" if sub else path, issue.message))


def _check_onsite_message(value: Any, path: str, report: DefinitionReport, refs: _References) -> None:
    if not _is_int(value):
        report.error(path, "must be an on-site message id (integer)")
    else:
        refs.onsite_messages.append((path, value))


def _check_slug_ref(value: Any, path: str, report: DefinitionReport, bucket: list) -> None:
    if not isinstance(value, str) or not value.strip():
        report.error(path, "must be a slug")
    else:
        bucket.append((path, value))


def _check_references(refs: _References, report: DefinitionReport) -> None:
    for model_label, bucket, what in (
        ("channels.Template", refs.templates, "template"),
        ("audiences.Audience", refs.audiences, "audience"),
    ):
        if not bucket:
            continue
        try:
            model = apps.get_model(model_label)
        except LookupError:
            continue
        found = set(model.objects.filter(slug__in={s for _, s in bucket}).values_list("slug", flat=True))
        for path, slug in bucket:
            if slug not in found:
                report.error(path, f"no {what} with slug {slug!r}")
    if refs.onsite_messages:
        _check_onsite_references(refs, report)
    if refs.endpoints:
        try:
            model = apps.get_model("partner", "Endpoint")
        except LookupError:
            return
        found_ids = set(
            model.objects.filter(pk__in={e for _, e in refs.endpoints}).values_list("pk", flat=True)
        )
        for path, endpoint_id in refs.endpoints:
            if endpoint_id not in found_ids:
                report.error(path, f"no partner endpoint with id {endpoint_id}")


def _check_onsite_references(refs: _References, report: DefinitionReport) -> None:
    """The message must exist; one that is not active is a warning (it shows nothing until it is)."""
    from journeys.onsite.models import Message, Status

    rows = Message.objects.filter(pk__in={v for _, v in refs.onsite_messages})
    found = {pk: (name, status) for pk, name, status in rows.values_list("pk", "name", "status")}
    for path, value in refs.onsite_messages:
        if value not in found:
            report.error(path, f"no on-site message with id {value}")
        elif found[value][1] != Status.ACTIVE:
            report.warnings.append(
                DefinitionIssue(
                    path,
                    f"on-site message {value} ({found[value][0]!r}) is {found[value][1]}: it shows "
                    "nothing until it is active",
                )
            )


def _reachable(start: str, graph: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _check_spin_loops(stages: list, keys: dict[str, int], report: DefinitionReport) -> None:
    """A cycle whose every edge is an instant edge ("if", "else", "on_onsite" or a split) would advance
    forever without waiting."""
    instant: dict[str, list[str]] = {}
    for key, i in keys.items():
        stage = stages[i]
        targets = [b.get("to") for b in stage.get("split", []) or [] if isinstance(b, dict)]
        targets += [
            t.get("to")
            for t in stage.get("transitions", []) or []
            if isinstance(t, dict) and transition_kind(t) in LOOP_INSTANT_KINDS
        ]
        instant[key] = [t for t in targets if t in keys]
    reported: set[frozenset[str]] = set()
    for cycle in _cycles(instant):
        members = frozenset(cycle)
        if members in reported:
            continue
        reported.add(members)
        first = min(cycle, key=lambda k: keys[k])
        report.error(
            f"stages[{keys[first]}]",
            "loop with no wait: " + " → ".join([*cycle, cycle[0]]) + ' (add an "after", "on_event" or '
            '"on_audience_entered" transition on the loop)',
        )


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Elementary cycles, one per strongly connected component (enough to name the loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, []):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, []):
                components.append(list(reversed(comp)))

    for v in graph:
        if v not in index:
            connect(v)
    return components


def _channels() -> list[str]:
    from tracking.models import Channel

    return [c.value for c in Channel]


def _zone_ok(name: Any) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
