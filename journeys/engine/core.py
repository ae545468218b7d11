"""The decision core of the engine: given a run's state and what is known about its profile, which
stages does it pass through up to `now`, and what does each visit do?

Pure apart from the questions it asks its `Facts` (events, audience entries, rules), so the same code
drives the worker (which then writes the plan in bulk) and the dry run (which only reports it).

Timing: every transition happens at the moment it fired (an event's timestamp, an "after" due time,
an audience entry), not when a worker noticed it, so catching up after downtime or a simulated clock
(`run_due --now`) gives the same history as running in real time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from journeys.definition import first_stage_key, onsite_event_match, stages_by_key, transition_kind
from journeys.schedule import after_due
from tracking.conditions import event_matches

# A valid definition never loops without waiting; this only bounds damage from a bad migration mapping.
MAX_HOPS_PER_PASS = 100


@dataclass
class EventFact:
    id: int
    name: str
    properties: dict
    timestamp: datetime


class Facts(Protocol):
    def events(
        self, profile_id: int, names: set[str], after: datetime, until: datetime
    ) -> list[EventFact]: ...

    def audience_entries(
        self, profile_id: int, slug: str, after: datetime, until: datetime
    ) -> list[datetime]: ...

    def audience_exits(
        self, profile_id: int, slug: str, after: datetime, until: datetime
    ) -> list[datetime]: ...

    def rule_matches(self, rule: dict, profile_id: int, now: datetime) -> bool: ...

    def zone(self, profile_id: int) -> ZoneInfo: ...


@dataclass
class RunState:
    id: int
    journey_id: int
    profile_id: int
    entered_at: datetime
    stage_key: str
    stage_entered_at: datetime | None
    visits: int
    variant: str
    holdout: bool
    status: str = "active"
    due_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str = ""


@dataclass
class Visit:
    """One stage entered: the RunStep to write and the actions to carry out."""

    seq: int
    stage_key: str
    from_stage: str
    reason: str
    at: datetime
    detail: dict
    actions: list[dict]
    variant: str


@dataclass
class Plan:
    visits: list[Visit] = field(default_factory=list)
    ended: str = ""  # "completed" | "exited" | ""

    @property
    def transitions(self) -> int:
        return len(self.visits)


def stable_fraction(*parts: object) -> float:
    """A deterministic number in [0, 1) from its inputs (holdout and split assignment)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_holdout(*, journey_id: int, profile_id: int, percent: float) -> bool:
    return percent > 0 and stable_fraction("holdout", journey_id, profile_id) * 100 < percent


def split_choose(branches: list[dict], *, run_id: int, stage_key: str, visit: int) -> str:
    total = sum(b["weight"] for b in branches)
    point = stable_fraction("split", run_id, stage_key, visit) * total
    for branch in branches:
        point -= branch["weight"]
        if point < 0:
            return branch["to"]
    return branches[-1]["to"]


def exit_names(definition: dict) -> set[str]:
    return {c["event"] for c in definition.get("exit_when", []) if "event" in c}


def watched_event_names(definition: dict) -> set[str]:
    """Event names that can move or end a run of this definition."""
    names = exit_names(definition)
    for stage in definition.get("stages", []):
        for t in stage.get("transitions", []):
            if "on_event" in t:
                names.add(t["on_event"]["event"])
            elif "on_onsite" in t:
                names.add(onsite_event_match(t["on_onsite"])["event"])
    return names


def run_plan(state: RunState, definition: dict, facts: Facts, now: datetime) -> Plan:
    """Advance `state` in place as far as `now` allows; return the visits made and how it ended."""
    plan = Plan()
    stages = stages_by_key(definition)
    exits = [c for c in definition.get("exit_when", [])]

    if not state.stage_key:
        _enter(state, plan, stages, first_stage_key(definition), state.entered_at, "entered", {}, "")

    for _ in range(MAX_HOPS_PER_PASS):
        if state.status != "active":
            return plan
        stage = stages[state.stage_key]
        # "if" is decided on entering a stage: only for a visit made in this very pass.
        fresh = bool(plan.visits) and plan.visits[-1].stage_key == state.stage_key
        dues = _after_dues(state, stage, facts)
        fired = _next_transition(state, stage, facts, now, fresh=fresh, dues=dues)
        exit_at = _exit_time(state, exits, facts, now)
        if exit_at is not None and (fired is None or exit_at[0] <= fired[1]):
            state.status, state.ended_at, state.end_reason = "exited", exit_at[0], exit_at[1]
            state.due_at = None
            plan.ended = "exited"
            return plan
        if fired is None:
            # Without news, look again at the earliest pending "after".
            state.due_at = min(dues.values()) if dues else None
            return plan
        to, at, reason, detail = fired
        _enter(state, plan, stages, to, at, reason, detail, state.stage_key)
    state.due_at = now  # bounded work per pass; the rest happens on the next one
    return plan


def _enter(
    state: RunState,
    plan: Plan,
    stages: dict[str, dict],
    key: str,
    at: datetime,
    reason: str,
    detail: dict,
    from_stage: str,
) -> None:
    stage = stages[key]
    state.visits += 1
    state.stage_key, state.stage_entered_at = key, at
    plan.visits.append(
        Visit(
            seq=state.visits,
            stage_key=key,
            from_stage=from_stage,
            reason=reason,
            at=at,
            detail=detail,
            actions=list(stage.get("actions", [])),
            variant=state.variant,
        )
    )
    if stage.get("exit"):
        state.status, state.ended_at, state.end_reason = "completed", at, f"reached exit stage {key}"
        state.due_at = None
        plan.ended = "completed"


def _after_dues(state: RunState, stage: dict, facts: Facts) -> dict[int, datetime]:
    """When each "after" transition of the current stage fires, by the transition's index."""
    dues: dict[int, datetime] = {}
    for index, t in enumerate(stage.get("transitions", [])):
        if "after" in t:
            assert state.stage_entered_at is not None
            dues[index] = after_due(
                entered_at=state.stage_entered_at, after=t["after"], zone=facts.zone(state.profile_id)
            )
    return dues


def _next_transition(
    state: RunState, stage: dict, facts: Facts, now: datetime, *, fresh: bool, dues: dict[int, datetime]
) -> tuple[str, datetime, str, dict] | None:
    """The transition that fires first in time (ties: the first listed), if any has fired by `now`."""
    entered = state.stage_entered_at
    assert entered is not None
    if "split" in stage:
        to = split_choose(stage["split"], run_id=state.id, stage_key=state.stage_key, visit=state.visits)
        state.variant = to if not state.variant else f"{state.variant}/{to}"
        return to, entered, "split", {"branch": to}
    best: tuple[datetime, int, str, str, dict] | None = None
    for index, t in enumerate(stage.get("transitions", [])):
        kind = transition_kind(t)
        hit: tuple[datetime, str, dict] | None = None
        if kind == "if":
            if fresh and facts.rule_matches(t["if"], state.profile_id, now):
                hit = (entered, "if", {"transition": index})
        elif kind == "else":
            # Listed last (validation), so at the same instant any "if" that matched wins the tie.
            if fresh:
                hit = (entered, "else", {"transition": index})
        elif kind == "after":
            due = dues[index]
            if due <= now:
                hit = (due, "after", {"transition": index, "due": due.isoformat()})
        elif kind == "on_event":
            match = t["on_event"]
            for ev in facts.events(state.profile_id, {match["event"]}, entered, now):
                if event_matches(name=ev.name, properties=ev.properties, match=match, now=ev.timestamp):
                    hit = (ev.timestamp, f"event {ev.name}", {"transition": index, "event_id": ev.id})
                    break
        elif kind == "on_onsite":
            # Since the run entered the journey, not the stage: the message was queued by an earlier
            # stage and viewed while the run waited, or a branch asks later whether it was. An
            # interaction before this stage was entered fires on entering it.
            match = onsite_event_match(t["on_onsite"])
            for ev in facts.events(state.profile_id, {match["event"]}, state.entered_at, now):
                if event_matches(name=ev.name, properties=ev.properties, match=match, now=ev.timestamp):
                    did = t["on_onsite"]["did"]
                    hit = (
                        max(ev.timestamp, entered),
                        f"on-site message {did}",
                        {"transition": index, "event_id": ev.id},
                    )
                    break
        elif kind == "on_audience_entered":
            entries = facts.audience_entries(state.profile_id, t["on_audience_entered"], entered, now)
            if entries:
                hit = (
                    min(entries),
                    f"entered audience {t['on_audience_entered']}",
                    {"transition": index},
                )
        if hit and (best is None or hit[0] < best[0]):
            best = (hit[0], index, t["to"], hit[1], hit[2])
    if best is None:
        return None
    return best[2], best[0], best[3], best[4]


def _exit_time(
    state: RunState, exits: list[dict], facts: Facts, now: datetime
) -> tuple[datetime, str] | None:
    found: list[tuple[datetime, str]] = []
    for cond in exits:
        if "event" in cond:
            for ev in facts.events(state.profile_id, {cond["event"]}, state.entered_at, now):
                if event_matches(name=ev.name, properties=ev.properties, match=cond, now=ev.timestamp):
                    found.append((ev.timestamp, f"exit_when event {ev.name}"))
                    break
        elif "audience_exited" in cond:
            for at in facts.audience_exits(state.profile_id, cond["audience_exited"], state.entered_at, now):
                found.append((at, f"exit_when left audience {cond['audience_exited']}"))
    if not found:
        return None
    at, reason = min(found)
    # An exit that happened while catching up still ends the run no earlier than where it stands.
    return max(at, state.stage_entered_at or at), reason


def goal_deadline(definition: dict, entered_at: datetime) -> datetime | None:
    goal = definition.get("goal")
    return entered_at + timedelta(days=goal["within_days"]) if goal else None


def goal_event_names(definition: dict) -> set[str]:
    goal = definition.get("goal")
    return {goal["event"]} if goal else set()


def goal_matches(definition: dict, *, name: str, properties: dict, at: datetime) -> bool:
    """Whether one event is the definition's goal (its event name and `where`), wherever it happened."""
    goal = definition.get("goal")
    return bool(goal) and event_matches(name=name, properties=properties, match=goal, now=at)


def goal_conversion(
    definition: dict, facts: Facts, *, profile_id: int, entered_at: datetime, now: datetime
) -> EventFact | None:
    """The event that converted a run entered at `entered_at`: the first goal event after the entry and
    no later than the goal deadline (nor `now`). The engine (catching up) and the dry run both ask this;
    live events are checked one by one with goal_matches as they arrive."""
    deadline = goal_deadline(definition, entered_at)
    if deadline is None:
        return None
    for ev in facts.events(profile_id, goal_event_names(definition), entered_at, min(deadline, now)):
        if goal_matches(definition, name=ev.name, properties=ev.properties, at=ev.timestamp):
            return ev
    return None


def entry_matches_event(definition: dict, *, name: str, properties: dict, at: datetime) -> bool:
    entry = definition.get("entry", {})
    return "event" in entry and event_matches(name=name, properties=properties, match=entry, now=at)


def definition_summary(definition: dict) -> dict[str, Any]:
    return {"stages": [s["key"] for s in definition.get("stages", [])]}
