"""Setting aside poison rows: a row a claimed-work loop cannot handle never blocks the rows behind it.

A loop that claims a batch of due rows hands it to `rows_handle` with the function that handles a
batch. When that function raises an error that is not transient, the batch is split in two and
each half handled on its own (each attempt in a savepoint, so a failed one leaves nothing behind),
down to single rows: the rows that fail on their own are *set aside* — a `SetAside` record with the
error, and a mark on the row itself that the queue's claim skips — and every other row is handled.
A batch with one bad row costs about twice the work of a good one, once.

Transient errors (the database or the broker unreachable, a serialization failure, a lock or
statement timeout) are not the row's fault: they propagate, the task fails and the next run (the
beat tick) tries the whole batch again.

Floors register their queues here (core imports no floor above it): how to mark rows so the claim
skips them, and how to release them again when an operator presses Retry in the admin.

    set_aside_queue_register(
        name="events", title="Event processing", model="tracking.Event", wake=events_process_wake
    )

A bug that fails every row sets every row aside (one at a time, as the batches come); the health
page turns to a warning at the first one. After the fix, Retry on the admin's "Set-aside rows"
list puts them back in their queues.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from core.health import health_gauge_register, sql_scalar
from core.models import SetAside, SetAsideState

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MARK_FIELD = "set_aside_at"


@dataclass(frozen=True)
class SetAsideQueue:
    """A claimed-work loop whose rows can be set aside. `mark(model, ids)` takes the rows out of the
    claim; `release(model, ids)` makes them due again; `wake()` asks a worker to look (optional)."""

    name: str
    title: str
    model: str  # the queue's default row model (app_label.ModelName)
    mark: Callable[[str, list[int]], None]
    release: Callable[[str, list[int]], None]
    wake: Callable[[], None] | None = None


_QUEUES: dict[str, SetAsideQueue] = {}


def _column_mark(label: str, ids: list[int]) -> None:
    apps.get_model(label).objects.filter(pk__in=ids).update(**{MARK_FIELD: timezone.now()})


def _column_release(label: str, ids: list[int], extra: dict | None = None) -> None:
    apps.get_model(label).objects.filter(pk__in=ids).update(**{MARK_FIELD: None}, **(extra or {}))


def set_aside_queue_register(
    *,
    name: str,
    title: str,
    model: str,
    mark: Callable[[str, list[int]], None] | None = None,
    release: Callable[[str, list[int]], None] | None = None,
    release_also: dict | None = None,
    wake: Callable[[], None] | None = None,
) -> None:
    """Register a queue. By default rows are marked in their `set_aside_at` column (which the
    queue's claim must skip) and released by clearing it, setting `release_also` (field → value;
    e.g. a lease to clear) at the same time."""
    _QUEUES[name] = SetAsideQueue(
        name=name,
        title=title,
        model=model,
        mark=mark or _column_mark,
        release=release or (lambda label, ids: _column_release(label, ids, release_also)),
        wake=wake,
    )
    health_gauge_register(
        name=f"voyage_set_aside_{name}",
        help=f"Rows set aside from {title.lower()}",
        read=lambda: sql_scalar(
            "SELECT count(*) FROM core_setaside WHERE state = 'set_aside' AND queue = %s", [name]
        ),
        unit="rows",
        warn_above=0,
        explain="A row could not be handled and was set aside (the rest go on): open Set-aside rows "
        "in the admin, fix the cause, then Retry.",
        link="/admin/core/setaside/?state__exact=set_aside&queue__exact=" + name,
    )


def set_aside_queues() -> list[SetAsideQueue]:
    return sorted(_QUEUES.values(), key=lambda q: q.name)


def set_aside_queue(name: str) -> SetAsideQueue:
    return _QUEUES[name]


# --- which errors are the row's fault --------------------------------------------------------


def error_is_transient(exc: BaseException) -> bool:
    """True for failures of the machinery rather than of the rows: they must fail the task (and be
    retried whole), never set a row aside."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    transient: list[type] = []
    try:
        import psycopg

        transient += [psycopg.OperationalError, psycopg.InterfaceError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import redis.exceptions

        transient += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import kombu.exceptions
        from celery.exceptions import SoftTimeLimitExceeded

        transient += [kombu.exceptions.OperationalError, SoftTimeLimitExceeded]
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, tuple(transient))


# Error texts can quote the data that broke them: keep addresses, phone numbers and credentials out.
_SCRUB = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1<credentials>@"),
    (
        re.compile(r"(?i)\b(bearer|basic|token|secret|password|api[_-]?key)\b(\s*[=:]?\s*)\S+"),
        r"\1\2<redacted>",
    ),
    (re.compile(r"\+\d[\d\s().-]{6,}\d"), "<number>"),  # phone numbers (E.164 or spaced)
]


def _scrub(text: str) -> str:
    text = text.replace("\x00", "\\0")
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def error_describe(exc: BaseException) -> tuple[str, str, str]:
    """(class, message, short traceback) safe to keep: the message's first line (database errors
    add DETAIL lines that quote row values), scrubbed; the last frames of the traceback."""
    cls = type(exc)
    name = f"{cls.__module__}.{cls.__qualname__}"[:200]
    lines = str(exc).strip().splitlines()
    message = _scrub(lines[0] if lines else "")[:1000]
    # Our own frames say where it failed; the library frames under them say little: keep ours and
    # the innermost two.
    frames = traceback.extract_tb(exc.__traceback__)
    kept = [
        f for f in frames[:-2] if "site-packages" not in f.filename and "/core/setaside.py" not in f.filename
    ]
    tb = "".join(traceback.format_list([*kept[-10:], *frames[-2:]]))
    tb = re.sub(r'File "[^"]*/(site-packages|dist-packages)/', 'File "', tb)
    tb = tb.replace(f'File "{settings.BASE_DIR}/', 'File "')
    tb = _scrub(tb + f"{cls.__qualname__}: {message}")[-4000:]
    return name, message, tb


# --- the helper a claimed-work loop calls ----------------------------------------------------


def rows_set_aside(
    *, queue: str, refs: Sequence[tuple[str, int]], error: BaseException, now: datetime | None = None
) -> None:
    """Record `refs` ((model label, row id) pairs) as set aside from `queue` with `error`, and mark
    the rows so the queue's claim skips them. Runs in the caller's transaction when there is one."""
    q = _QUEUES[queue]
    now = now or timezone.now()
    error_class, message, tb = error_describe(error)
    by_model: dict[str, list[int]] = defaultdict(list)
    for model, row_id in refs:
        by_model[model].append(int(row_id))
    with transaction.atomic():
        for model, ids in by_model.items():
            for row_id in ids:
                record, created = SetAside.objects.select_for_update().get_or_create(
                    queue=queue,
                    model=model,
                    row_id=row_id,
                    defaults={
                        "error_class": error_class,
                        "error_message": message,
                        "traceback": tb,
                        "first_seen_at": now,
                        "last_seen_at": now,
                    },
                )
                if not created:
                    record.state = SetAsideState.SET_ASIDE
                    record.error_class, record.error_message, record.traceback = error_class, message, tb
                    record.attempts += 1
                    record.last_seen_at = now
                    record.resolved_at, record.resolved_by = None, ""
                    record.save()
            q.mark(model, ids)
    logger.error(
        "%s: set aside %d row(s) %s after %s: %s",
        queue,
        len(refs),
        ", ".join(f"{m}#{i}" for m, i in list(refs)[:10]),
        error_class,
        message,
    )


def rows_handle(
    *,
    queue: str,
    items: Sequence[T],
    handle: Callable[[list[T]], R],
    ref: Callable[[T], tuple[str, int]] | None = None,
    split: Literal["bisect", "each"] = "bisect",
) -> list[R]:
    """Handle a claimed batch with `handle(items)`; rows that fail on their own are set aside.

    Returns what `handle` returned for each part that succeeded, in order (the whole batch's result
    alone when nothing failed).

    - split="bisect": `handle` only writes to the database; each attempt runs in a savepoint
      (a transaction of its own outside one), so a failed part leaves nothing behind. On a failure
      the part is halved until the failing rows stand alone; order among the good rows is kept.
    - split="each": `handle` has effects outside the database (an HTTP call): rows are handled one
      at a time, never twice, with no transaction around them (the handler keeps its own short ones).

    `ref(item)` names the row an item stands for, (model label, id); by default the item is the id of
    a row of the queue's model. Transient errors (error_is_transient) propagate untouched.
    """
    q = _QUEUES[queue]
    name_of = ref or (lambda item: (q.model, int(item)))  # type: ignore[call-overload]
    results: list[R] = []

    def attempt(part: list[T]) -> BaseException | None:
        try:
            if split == "bisect":
                with transaction.atomic():
                    results.append(handle(part))
            else:
                results.append(handle(part))
        except Exception as exc:
            if error_is_transient(exc):
                raise
            return exc
        return None

    def solve(part: list[T], *, fails: bool = False) -> None:
        """Handle `part`; `fails`: it is known to fail as a whole (its parent failed and the other
        half did not), so go straight to its halves. A single row is always tried for real."""
        if not fails or len(part) == 1:
            error = attempt(part)
            if error is None:
                return
            if len(part) == 1:
                rows_set_aside(queue=queue, refs=[name_of(part[0])], error=error)
                return
        middle = len(part) // 2
        left, right = part[:middle], part[middle:]
        left_error = attempt(left)
        if left_error is not None:
            if len(left) == 1:
                rows_set_aside(queue=queue, refs=[name_of(left[0])], error=left_error)
            else:
                solve(left, fails=True)
            solve(right)
        else:
            solve(right, fails=True)

    items = list(items)
    if not items:
        return results
    if split == "each":
        for item in items:
            solve([item])
    else:
        solve(items)
    return results


# --- operators' actions ----------------------------------------------------------------------


def set_aside_retry(*, ids: Sequence[int], by: str = "") -> int:
    """Put these set-aside rows back in their queues (their claim takes them again) and wake the
    queues' workers after commit. A row that still fails is set aside again, attempts + 1."""
    now = timezone.now()
    with transaction.atomic():
        records = list(
            SetAside.objects.select_for_update()
            .filter(pk__in=list(ids))
            .exclude(state=SetAsideState.RETRIED)
            .order_by("pk")
        )
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for record in records:
            groups[(record.queue, record.model)].append(record.row_id)
        woken: set[str] = set()
        for (queue, model), row_ids in groups.items():
            q = _QUEUES.get(queue)
            if q is None:
                continue
            q.release(model, row_ids)
            if q.wake is not None and queue not in woken:
                woken.add(queue)
                transaction.on_commit(q.wake, robust=True)
        done = [r.pk for r in records if r.queue in _QUEUES]
        SetAside.objects.filter(pk__in=done).update(
            state=SetAsideState.RETRIED, resolved_at=now, resolved_by=by[:150]
        )
    return len(done)


def set_aside_discard(*, ids: Sequence[int], by: str = "") -> int:
    """Give these rows up: they stay out of their queues for good and leave the open list."""
    return SetAside.objects.filter(pk__in=list(ids), state=SetAsideState.SET_ASIDE).update(
        state=SetAsideState.DISCARDED, resolved_at=timezone.now(), resolved_by=by[:150]
    )
