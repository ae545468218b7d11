"""Dry run: what would this profile do in this journey, judging by its history? Nothing is written."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from journeys.definition import DefinitionInvalid, definition_validate
from journeys.engine.core import (
    RunState,
    goal_conversion,
    goal_deadline,
    goal_event_names,
    is_holdout,
    run_plan,
    watched_event_names,
)
from journeys.engine.facts import BatchFacts, audience_slugs
from journeys.models import Journey, JourneyVersion, Run, RunStatus
from tracking.conditions import event_matches
from tracking.models import Event, Profile


class UnknownProfile(Exception):
    pass


def journey_dry_run(
    *,
    journey: Journey,
    profile_id: int,
    entered_at: datetime | None = None,
    now: datetime | None = None,
    version: JourneyVersion | None = None,
) -> dict:
    """Replay the journey for the profile from `entered_at` (default: its latest entry event, else now)
    up to `now`, using its real events and audience history; report every stage, action and wait."""
    now = now or timezone.now()
    if not Profile.objects.filter(pk=profile_id).exists():
        raise UnknownProfile(f"no profile {profile_id}")
    version = version or journey.live_version or journey.versions.order_by("-number").first()
    definition = version.definition
    # A draft may be saved half-written; the simulation needs a whole definition ("no stages" is a
    # 400 with the errors by path, not a KeyError).
    report = definition_validate(definition, check_references=False)
    if not report.ok:
        raise DefinitionInvalid(report)
    notes: list[str] = []
    if entered_at is None:
        entered_at = _latest_entry_event(definition, profile_id, now)
        if entered_at is None:
            entered_at = now
            notes.append("no entry event in the profile's history: simulated as entering now")
    if Run.objects.filter(journey=journey, profile_id=profile_id, status=RunStatus.ACTIVE).exists():
        notes.append("the profile is in this journey right now: a real entry would be refused")
    if definition.get("entry_rule"):
        from audiences.compiler import profile_matches

        if not profile_matches(definition["entry_rule"], profile_id=profile_id, now=entered_at):
            notes.append("the entry rule does not match this profile: a real entry would be refused")
    holdout = is_holdout(
        journey_id=journey.pk, profile_id=profile_id, percent=definition.get("holdout_percent", 0)
    )
    state = RunState(
        id=profile_id,  # stands in for the run id, so splits are stable between dry runs
        journey_id=journey.pk,
        profile_id=profile_id,
        entered_at=entered_at,
        stage_key="",
        stage_entered_at=None,
        visits=0,
        variant="",
        holdout=holdout,
    )
    facts = BatchFacts(
        profile_ids={profile_id},
        event_names=watched_event_names(definition) | goal_event_names(definition),
        slugs=audience_slugs(definition),
        since=entered_at,
        now=now,
    )
    plan = run_plan(state, definition, facts, now)
    names = _onsite_names(plan.visits)
    steps = [
        {
            "stage": v.stage_key,
            "from_stage": v.from_stage,
            "reason": v.reason,
            "at": v.at.isoformat(),
            "actions": [_describe(a, holdout, names) for a in v.actions],
        }
        for v in plan.visits
    ]
    goal = None
    if definition.get("goal"):
        deadline = goal_deadline(definition, entered_at)
        assert deadline is not None
        hit = goal_conversion(definition, facts, profile_id=profile_id, entered_at=entered_at, now=now)
        goal = {
            "deadline": deadline.isoformat(),
            "converted_at": hit.timestamp.isoformat() if hit else None,
            "event_id": hit.id if hit else None,
        }
    return {
        "journey": journey.slug,
        "version": version.number,
        "profile_id": profile_id,
        "entered_at": entered_at.isoformat(),
        "as_of": now.isoformat(),
        "holdout": holdout,
        "variant": state.variant,
        "steps": steps,
        "status": state.status,
        "stage": state.stage_key,
        "next_due_at": state.due_at.isoformat() if state.due_at else None,
        "end_reason": state.end_reason,
        "goal": goal,
        "notes": notes,
    }


def _latest_entry_event(definition: dict, profile_id: int, now: datetime) -> datetime | None:
    entry = definition.get("entry", {})
    if "event" not in entry:
        return None
    for event in Event.objects.filter(
        profile_id=profile_id, name=entry["event"], timestamp__lte=now
    ).order_by("-timestamp")[:200]:
        if event_matches(
            name=event.name, properties=event.properties or {}, match=entry, now=event.timestamp
        ):
            return event.timestamp
    return None


def _onsite_names(visits: list) -> dict[int, str]:
    from journeys.onsite.models import Message

    ids = {a["onsite"]["message"] for v in visits for a in v.actions if "onsite" in a}
    return dict(Message.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def _describe(action: dict, holdout: bool, onsite_names: dict[int, str]) -> str:
    kind, body = next(iter(action.items()))
    if kind == "send":
        what = f"send {body.get('channel')} template {body.get('template')!r}"
        return f"{what} — skipped: holdout" if holdout else what
    if kind == "tag":
        op, name = next(iter(body.items()))
        return f"{op} tag {name!r}"
    if kind == "set_trait":
        return "set " + ", ".join(f"{k} = {v!r}" for k, v in body.items())
    if kind == "webhook":
        what = f"call partner endpoint {body.get('endpoint')}"
        return f"{what} — skipped: holdout" if holdout else what
    if kind == "onsite":
        from journeys.onsite.queue import queue_days_default

        message = body["message"]
        days = body.get("expires_days") or queue_days_default()
        what = (
            f"show on-site message {message} {onsite_names.get(message, '(deleted)')!r} on the next "
            f"visit (offered for {days} days)"
        )
        return f"{what} — skipped: holdout" if holdout else what
    return kind
