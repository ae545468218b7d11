"""Set-based writes: one INSERT or UPDATE over a jsonb recordset (Django's bulk_update builds a CASE
WHEN per row and field, which costs seconds per thousand rows); `json_text`, the one way rows travel
to PostgreSQL as a JSON document; and AnyOf, an id filter bound as one array. PostgreSQL only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Lookup, Model


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


def json_text(value: Any) -> str:
    """`value` as one JSON document for `json_to_recordset`/`jsonb_to_recordset` (orjson: fast, and
    datetimes in ISO 8601 with their offset). Decimals travel as strings; an integer beyond 64 bits,
    which orjson refuses, goes through the standard library."""
    try:
        return orjson.dumps(value, default=_json_default).decode()
    except TypeError:
        return json.dumps(value, cls=DjangoJSONEncoder)


def _spec(fields: Sequence[Any]) -> str:
    return ", ".join(f'"{f.column}" {f.db_type(connection)}' for f in fields)


def records_update(
    model: type[Model],
    records: Sequence[dict[str, Any]],
    fields: Sequence[str],
    *,
    keep_when_null: Sequence[str] = (),
    where: str = "",
    params: Sequence[Any] = (),
) -> list[int]:
    """UPDATE many rows from plain dicts ({"pk": …, attname: value}) in one statement.

    Values are plain Python values (str, int, datetime, Decimal, dict for JSON). Fields listed in
    `keep_when_null` keep the row's value where the record has None. `where` adds conditions on the
    row (alias t). Returns the primary keys of the rows actually updated.
    """
    if not records:
        return []
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk_type = meta.pk.db_type(connection).replace("serial", "int")
    assignments = ", ".join(
        f'"{f.column}" = COALESCE(v."{f.column}", t."{f.column}")'
        if f.name in keep_when_null
        else f'"{f.column}" = v."{f.column}"'
        for f in columns
    )
    sql = (
        f'UPDATE "{meta.db_table}" AS t SET {assignments} '
        f"FROM jsonb_to_recordset(%s::jsonb) AS v(pk {pk_type}, {_spec(columns)}) "
        f'WHERE t."{meta.pk.column}" = v.pk {where} RETURNING t."{meta.pk.column}"'
    )
    payload = json_text([{"pk": r["pk"], **{f.column: r.get(f.attname) for f in columns}} for r in records])
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload, *params])
        return [row[0] for row in cursor.fetchall()]


def records_insert(
    model: type[Model],
    records: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str] = ("id",),
    conflict_ignore: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """INSERT many rows from plain dicts (attname → value; missing fields take their defaults) in one
    statement. Returns the `returning` columns of each new row.

    `conflict_ignore` names the columns of a unique constraint: a row that would violate it is left
    out (ON CONFLICT … DO NOTHING, waiting for a concurrent insert of the same key to settle) and
    returns nothing, so the caller can tell its new rows from the ones that already existed."""
    if not records:
        return []
    meta = model._meta
    columns = [f for f in meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in columns if f.has_default() or f.null}
    conflict = _conflict_clause(conflict_ignore)
    names = ", ".join(f'"{f.column}"' for f in columns)
    sql = (
        f'INSERT INTO "{meta.db_table}" ({names}) SELECT {names} '
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({_spec(columns)}) "
        f"{conflict}RETURNING {', '.join(returning)}"
    )
    # Each row is the defaults overlaid with the record (a C-level dict merge: per-column Python for
    # thirty columns and a thousand rows was a tenth of a journey batch). Keys that are not columns
    # are ignored by jsonb_to_recordset.
    base = {f.column: defaults.get(f.attname) for f in columns}
    renamed = {f.attname: f.column for f in columns if f.attname != f.column}
    if renamed:
        records = [{renamed.get(k, k): v for k, v in record.items()} for record in records]
    rows = [base | record for record in records]
    with connection.cursor() as cursor:
        cursor.execute(sql, [json_text(rows)])
        return cursor.fetchall()


# conflict_ignore=ANY_UNIQUE: a row that would violate any unique constraint is left out (for tables
# with more than one, where ON CONFLICT can name only one).
ANY_UNIQUE: tuple[str, ...] = ("*",)


def _conflict_clause(columns: Sequence[str]) -> str:
    if not columns:
        return ""
    if tuple(columns) == ANY_UNIQUE:
        return "ON CONFLICT DO NOTHING "
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f"ON CONFLICT ({quoted}) DO NOTHING "


class AnyOf(Lookup):
    """`lhs = ANY(%s)` with the values as one array parameter (Django's `__in` writes one placeholder
    per value, and building and binding a thousand of them costs milliseconds per query). Use it as a
    filter expression: `qs.filter(AnyOf(F("pk"), ids))`."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            return "1 = 0", []
        return f"{lhs} = ANY(%s)", [*params, values]
