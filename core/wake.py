"""Wake a Celery task once after the current transaction commits.

Work that a task picks up lives in PostgreSQL (a due row), so the wake-up is only a shortcut: the
beat tick sweeps the same rows. Hence two rules:

- Once per transaction, however many rows it wrote: the first call in a transaction registers the
  wake-up with `transaction.on_commit`, later calls for the same task do nothing. "Already asked in
  this transaction" is a transaction-local PostgreSQL setting (`set_config(…, is_local => true)`), so
  it vanishes with the transaction, and a rolled-back savepoint forgets it together with the on-commit
  callbacks Django discards — no private Django state is read.
- A wake-up that fails after commit (the broker is down) is logged and left to the sweep: the rows
  are committed, so the caller's request succeeded and must say so.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Protocol

from django.db import connection, transaction

logger = logging.getLogger(__name__)


class _Task(Protocol):
    name: str

    def delay(self, *args: Any, **kwargs: Any) -> Any: ...


def task_wake(*, task: _Task, args: tuple[Any, ...] = ()) -> bool:
    """Enqueue `task` now; on a broker error log it and return False (the beat sweep covers it)."""
    try:
        task.delay(*args)
    except Exception:
        logger.warning(
            "core: could not wake %s after commit; the periodic sweep will pick the work up",
            task.name,
            exc_info=True,
        )
        return False
    return True


def task_wake_on_commit(*, task: _Task, args: tuple[Any, ...] = ()) -> bool:
    """Wake `task` (with `args`) once after this transaction commits. Returns True when this call
    registered the wake-up, False when the transaction had already asked for the same one."""
    if not connection.in_atomic_block:
        task_wake(task=task, args=args)  # autocommit: what was written is committed already
        return True
    setting = "voyage_wake.t" + hashlib.sha1(repr((task.name, args)).encode()).hexdigest()[:24]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [setting])
        if cursor.fetchone()[0] == "1":
            return False
        cursor.execute("SELECT set_config(%s, '1', true)", [setting])
    transaction.on_commit(lambda: task_wake(task=task, args=args))
    return True
