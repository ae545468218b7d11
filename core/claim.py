"""Leased claims of due rows: how several workers share a table of due work without a coordinator.

A due row (a journey run, a partner delivery, an outbox message) is claimed by locking it with
`SELECT … FOR UPDATE SKIP LOCKED` (other workers skip it and take other rows) and stamping it with a
lease (`lease_until`, often `lease_owner`) in the same transaction. Once that commits, the row is the
owner's until the lease runs out; a worker that dies leaves a lease that expires, and the next claim
(or a sweep) takes the row again. A worker that later finds a claimed row locked by someone else (news
being applied to it, another claim's scan) gives it back at once instead of letting it wait out the
lease.

- `rows_claim`: lock, lease and return a batch in one statement, its own transaction.
- `rows_lock`: lock a batch inside the caller's transaction, which then decides and leases.
- `rows_give_back`: clear the lease of rows still leased to us.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Model, QuerySet

from core.bulk import AnyOf


def commit_without_waiting_for_disk() -> None:
    """Let the current transaction's COMMIT return before its WAL reaches disk.

    For transactions whose loss in a *server* crash is harmless (a lost claim only means its rows are
    due again; a lost batch is lost whole and redone under the same idempotency keys). It saves a
    disk flush per transaction. A client dying never loses a committed transaction either way.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def rows_claim(
    *,
    queryset: QuerySet,
    limit: int,
    order_by: Sequence[str],
    lease: Mapping[str, Any],
    returning: Sequence[str] = ("id",),
    wait_for_disk: bool = True,
) -> list[tuple[Any, ...]]:
    """Lock up to `limit` rows of `queryset` (skipping rows others hold), set the `lease` columns
    (field name → value) and return the `returning` fields of each, in one statement.

    The locking scan is a materialized CTE, so it runs exactly once whatever plan PostgreSQL picks,
    and no id list travels back and forth. Joined tables are not locked (`of=self`): concurrent
    claims would otherwise skip each other's parent rows. `wait_for_disk=False`: see
    `commit_without_waiting_for_disk`."""
    model = queryset.model
    meta = model._meta
    pk = meta.pk.column
    due = (
        queryset.order_by(*order_by)
        .select_for_update(skip_locked=True, of=("self",))
        .values(meta.pk.attname)[:limit]
    )
    fields = [meta.get_field(name) for name in lease]
    assignments = ", ".join(f'"{f.column}" = %s' for f in fields)
    values = [f.get_db_prep_save(lease[f.name], connection) for f in fields]
    out = ", ".join(f'r."{meta.get_field(name).column}"' for name in returning)
    sql = (
        f'UPDATE "{meta.db_table}" AS r SET {assignments} '
        f'FROM due WHERE r."{pk}" = due."{pk}" RETURNING {out}'
    )
    with transaction.atomic():
        if not wait_for_disk:
            commit_without_waiting_for_disk()
        inner, params = due.query.sql_with_params()  # select_for_update compiles only in a transaction
        with connection.cursor() as cursor:
            cursor.execute(f"WITH due AS MATERIALIZED ({inner}) {sql}", [*params, *values])
            return cursor.fetchall()


def rows_lock(
    *, queryset: QuerySet, limit: int, order_by: Sequence[str], fields: Sequence[str]
) -> list[tuple]:
    """Lock up to `limit` rows of `queryset` for the caller's transaction, skipping rows others
    hold; returns the `fields` of each. The caller leases (or finishes) them before it commits."""
    if not connection.in_atomic_block:
        raise RuntimeError("rows_lock: the locks last only as long as a transaction; call it inside one")
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",))
        .order_by(*order_by)
        .values_list(*fields)[:limit]
    )


def rows_give_back(
    *, model: type[Model], ids: Sequence[Any], owner: Mapping[str, Any], release: Mapping[str, Any]
) -> int:
    """Clear the lease (`release`: field → value) of the rows among `ids` still held by `owner`
    (field → value, e.g. {"lease_owner": me}); rows someone else has taken over are left alone."""
    if not ids:
        return 0
    with transaction.atomic():
        return model.objects.filter(AnyOf(F("pk"), list(ids)), **owner).update(**release)
