"""Claiming due runs and advancing them in batches.

Claim: a short transaction takes up to `batch_size` due runs with SELECT … FOR UPDATE SKIP LOCKED and
stamps them with a lease (owner + lease_until), so several workers take disjoint batches. Process: one
transaction re-locks the runs still leased to this owner (a run whose lease ran out and that another
worker took over is no longer ours and is skipped), plans every run (journeys.engine.core), carries out
the actions and writes the steps and the runs in bulk. A worker killed in between leaves runs with a
lease that expires; the next claim after `lease_until` takes them. RunStep (run, seq) is unique, so a
run can never be advanced twice from the same visit, and every side effect is keyed by (run, visit,
action), so a retried batch creates nothing twice.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.bulk import AnyOf, records_update
from core.claim import commit_without_waiting_for_disk, rows_claim, rows_give_back
from core.setaside import rows_handle
from journeys.engine.actions import ActionBatch
from journeys.engine.core import RunState, goal_conversion, goal_event_names, run_plan, watched_event_names
from journeys.engine.facts import BatchFacts, audience_slugs
from journeys.models import Journey, JourneyStatus, Run, RunStatus, RunStep
from journeys.versions_cache import definition_of

logger = logging.getLogger(__name__)
SET_ASIDE_QUEUE = "journey_runs"  # registered in journeys.health


@dataclass
class AdvanceResult:
    batches: int = 0
    runs: int = 0
    transitions: int = 0
    completed: int = 0
    exited: int = 0
    skipped: int = 0
    journeys: set[int] = field(default_factory=set)
    # Claimed runs this batch could not lock (see runs_advance_due); not summed by add().
    skipped_ids: list[int] = field(default_factory=list)

    def add(self, other: AdvanceResult) -> None:
        self.batches += other.batches
        self.runs += other.runs
        self.transitions += other.transitions
        self.completed += other.completed
        self.exited += other.exited
        self.skipped += other.skipped
        self.journeys |= other.journeys


def lease_seconds() -> int:
    return getattr(settings, "JOURNEYS_LEASE_SECONDS", 120)


def runs_claim(*, now: datetime, limit: int, owner: str, journey_id: int | None = None) -> list[int]:
    """Lease up to `limit` due runs of active journeys to `owner`; returns their ids."""
    real_now = timezone.now()
    until = real_now + timedelta(seconds=lease_seconds())
    qs = Run.objects.filter(
        status=RunStatus.ACTIVE,
        due_at__lte=now,
        journey__status=JourneyStatus.ACTIVE,
        set_aside_at__isnull=True,
    )
    qs = qs.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=real_now))
    if journey_id is not None:
        qs = qs.filter(journey_id=journey_id)
    # One statement, its own transaction, committed without waiting for the disk: a claim lost in a
    # server crash only means its runs are due again, and nothing a batch writes can reach the outside
    # world first (dispatch claims an outbox row with a synchronous commit, which flushes all WAL
    # before it, this batch included).
    rows = rows_claim(
        queryset=qs,
        limit=limit,
        order_by=["due_at"],
        lease={"lease_until": until, "lease_owner": owner},
        wait_for_disk=False,
    )
    return [row[0] for row in rows]


@dataclass(slots=True)
class RunRow:
    """A run as one batch loads, advances and writes it: the Run columns the engine uses, as a plain
    object (building a thousand model instances per batch cost more than deciding their moves)."""

    pk: int
    journey_id: int
    version_id: int
    profile_id: int
    entered_at: datetime
    stage_key: str
    stage_entered_at: datetime | None
    visits: int
    variant: str
    holdout: bool
    status: str
    due_at: datetime | None
    goal_deadline: datetime | None
    converted_at: datetime | None
    conversion_event_id: int | None
    ended_at: datetime | None
    end_reason: str
    journey: Journey | None = None


_ROW_COLUMNS = [f for f in RunRow.__dataclass_fields__ if f != "journey"]


@transaction.atomic
def runs_process(*, run_ids: list[int], owner: str, now: datetime) -> AdvanceResult:
    """Advance the leased runs as of `now`, in one transaction."""
    result = AdvanceResult(batches=1)
    # A lost batch is lost whole (runs, steps, outbox rows and profile edits are one transaction), so
    # its runs are simply due again and redo the same visits under the same idempotency keys.
    commit_without_waiting_for_disk()
    runs = [
        RunRow(*row)
        for row in Run.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(AnyOf(F("pk"), run_ids))
        .filter(lease_owner=owner, status=RunStatus.ACTIVE)
        .values_list(*_ROW_COLUMNS)
    ]
    result.skipped_ids = sorted(set(run_ids) - {r.pk for r in runs})
    result.skipped = len(result.skipped_ids)
    if not runs:
        return result
    journeys = Journey.objects.in_bulk({r.journey_id for r in runs})
    for run in runs:
        run.journey = journeys[run.journey_id]
    definitions = {r.version_id: definition_of(r.version_id) for r in runs}
    names: set[str] = set()
    slugs: set[str] = set()
    for d in definitions.values():
        names |= watched_event_names(d) | goal_event_names(d)
        slugs |= audience_slugs(d)
    facts = BatchFacts(
        profile_ids={r.profile_id for r in runs},
        event_names=names,
        slugs=slugs,
        since=min(r.entered_at for r in runs),
        now=now,
    )
    actions = ActionBatch(now=now)
    steps: list[tuple] = []
    for run in runs:
        definition = definitions[run.version_id]
        state = RunState(
            id=run.pk,
            journey_id=run.journey_id,
            profile_id=run.profile_id,
            entered_at=run.entered_at,
            stage_key=run.stage_key,
            stage_entered_at=run.stage_entered_at,
            visits=run.visits,
            variant=run.variant,
            holdout=run.holdout,
        )
        plan = run_plan(state, definition, facts, now)
        for visit in plan.visits:
            detail = dict(visit.detail)
            outcome = actions.perform(run=run, visit=visit)
            if outcome:
                detail["actions"] = outcome
            steps.append(
                (
                    run.pk,
                    visit.seq,
                    visit.stage_key,
                    visit.from_stage,
                    visit.reason[:200],
                    visit.at,
                    detail,
                    owner,
                )
            )
            actions.announce_stage(run=run, visit=visit, entered=visit.seq == 1)
        if plan.ended:
            actions.announce_end(run=run, state=state)
        _goal_check(run, definition, facts, now, actions)
        result.transitions += plan.transitions
        result.completed += plan.ended == "completed"
        result.exited += plan.ended == "exited"
        _copy_state(run, state)
    actions.flush()  # first: it completes the send outcomes inside the step rows
    _steps_write(steps)
    _runs_write(runs)
    result.runs = len(runs)
    result.journeys = {r.journey_id for r in runs}
    return result


def _goal_check(
    run: RunRow, definition: dict, facts: BatchFacts, now: datetime, actions: ActionBatch
) -> None:
    """Conversions the engine sees while catching up (live ones are recorded as events arrive)."""
    if run.converted_at is not None or run.goal_deadline is None:
        return
    ev = goal_conversion(definition, facts, profile_id=run.profile_id, entered_at=run.entered_at, now=now)
    if ev is not None:
        run.converted_at, run.conversion_event_id = ev.timestamp, ev.id
        actions.announce_conversion(run=run, event_name=ev.name, at=ev.timestamp)


def _copy_state(run: RunRow, state: RunState) -> None:
    run.stage_key, run.stage_entered_at, run.visits = state.stage_key, state.stage_entered_at, state.visits
    run.variant, run.status, run.due_at = state.variant, state.status, state.due_at
    run.ended_at, run.end_reason = state.ended_at, state.end_reason[:200]


_STEP_COLUMNS = ("run_id", "seq", "stage_key", "from_stage", "reason", "at", "detail", "worker")


def _steps_write(steps: list[tuple]) -> None:
    """COPY: the step rows are most of a batch's writes."""
    if not steps:
        return
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY {RunStep._meta.db_table} ({', '.join(_STEP_COLUMNS)}) FROM STDIN") as copy:
            for row in steps:
                copy.write_row((*row[:6], orjson.dumps(row[6]).decode(), row[7]))


def _runs_write(runs: list[RunRow]) -> None:
    """One UPDATE per batch (core.bulk.records_update: a jsonb recordset on PostgreSQL), releasing
    the lease. A conversion already on the row stays: the row is locked, so a value loaded as set is
    written back unchanged, and one found by this batch only fills an empty column."""
    fields = ["stage_key", "stage_entered_at", "visits", "variant", "status", "due_at", "ended_at",
              "end_reason", "converted_at", "conversion_event_id", "lease_until", "lease_owner"]  # fmt: skip
    records = [
        {"pk": r.pk, **{f: getattr(r, f) for f in fields[:-2]}, "lease_until": None, "lease_owner": ""}
        for r in runs
    ]
    records_update(Run, records, fields, keep_when_null=["converted_at", "conversion_event_id"])


def runs_advance_due(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    journey_id: int | None = None,
) -> AdvanceResult:
    """Claim and advance batches of due runs until none is left (or `max_batches`)."""
    now = now or timezone.now()
    size = batch_size or getattr(settings, "JOURNEYS_BATCH_SIZE", 500)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]
    total = AdvanceResult()
    claims = 0
    while max_batches is None or claims < max_batches:
        ids = runs_claim(now=now, limit=size, owner=owner, journey_id=journey_id)
        if not ids:
            break
        claims += 1
        # A run that cannot be advanced on its own is set aside (core.setaside); the rest go on.
        for result in rows_handle(
            queue=SET_ASIDE_QUEUE,
            items=ids,
            handle=lambda part: runs_process(run_ids=part, owner=owner, now=now),
        ):
            if result.skipped_ids:
                _leases_release(result.skipped_ids, owner=owner)
            total.add(result)
    return total


def _leases_release(run_ids: list[int], *, owner: str) -> None:
    """Give back claimed runs the batch skipped because someone held their row lock at that moment
    (another worker's claim scan locks the rows it looks at until it commits, even those it then
    finds leased; news may be updating one). Released, they are due again for the next claim rather
    than waiting out the lease; rows another worker has taken over since are left alone."""
    rows_give_back(
        model=Run, ids=run_ids, owner={"lease_owner": owner}, release={"lease_until": None, "lease_owner": ""}
    )


def runs_wake(*, times_by_profile: dict[int, datetime], journey_ids: set[int] | None = None) -> int:
    """Make the active runs of these profiles due no later than the given moment (news arrived)."""
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for pid, at in times_by_profile.items():
        by_time[at].append(pid)
    woken = 0
    from django.db.models import Value
    from django.db.models.functions import Coalesce, Least

    for at, pids in by_time.items():
        qs = Run.objects.filter(status=RunStatus.ACTIVE, profile_id__in=pids)
        if journey_ids is not None:
            qs = qs.filter(journey_id__in=journey_ids)
        woken += qs.update(due_at=Least(Coalesce("due_at", Value(at)), Value(at)))
    return woken
