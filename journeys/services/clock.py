"""Everything due as of one moment, in the order a live system would do it."""

from __future__ import annotations

from datetime import datetime

from journeys.engine.runner import runs_advance_due
from journeys.onsite.queue import queued_prune
from journeys.services.broadcasts import broadcasts_tick
from journeys.services.schedules import schedules_tick


def due_work_run(*, now: datetime, batch_size: int | None = None) -> dict[str, int]:
    # Runs first, so runs that ended before a scheduled fire time can enter again at it.
    result = runs_advance_due(now=now, batch_size=batch_size)
    scheduled = schedules_tick(now=now)
    messages = broadcasts_tick(now=now)
    result.add(runs_advance_due(now=now, batch_size=batch_size))
    pruned = queued_prune(now=now)
    return {
        "scheduled_entries": scheduled,
        "broadcast_messages": messages,
        "runs": result.runs,
        "transitions": result.transitions,
        "completed": result.completed,
        "exited": result.exited,
        "onsite_queue_pruned": pruned,
    }
