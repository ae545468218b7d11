"""One condition on a JSON document (traits, tags, event properties) as a boolean SQL expression.

PostgreSQL: a `jsonb_path_exists` filter in lax mode, which already gives the language's semantics
for dotted paths through lists (`products.sku` matches any element) and compares numbers as
numbers, strings as strings and booleans as booleans. Dates need a cast jsonpath cannot do for
ISO strings ending in `Z`, so date comparisons look at each string at the path through
`audiences_iso_ts` (a safe cast created by this app's migration).

SQLite (the demo): a deterministic Python function registered on each connection that applies the
same semantics while SQLite scans rows, so the whole rule still runs as one SQL query.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import BooleanField, DecimalField, F, FloatField, Func
from django.db.models.expressions import Expression

from audiences.rules import is_number, parse_iso

POSITIVE_OPS = ("eq", "in", "gt", "gte", "lt", "lte", "between", "contains", "starts_with", "exists")
DATE_OPS = ("date_gt", "date_gte", "date_lt", "date_lte", "date_between")
SQL_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _jsonpath(path: list[str]) -> str:
    return "$" + "".join('."' + seg.replace("\\", "\\\\").replace('"', '\\"') + '"' for seg in path)


def _regex_literal(text: str) -> str:
    # Escape ASCII punctuation so the text matches literally in PostgreSQL's regex dialect, then
    # quote it as a jsonpath string (like_regex accepts only a literal, not a variable).
    escaped = "".join("\\" + c if (c.isascii() and not c.isalnum()) else c for c in text)
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JsonMatch(Func):
    """True when some value at `path` in the JSON column satisfies `op value` (positive ops only)."""

    output_field = BooleanField()
    arity = 1

    def __init__(self, column: Expression | str, *, path: list[str], op: str, value: Any = None) -> None:
        assert op in POSITIVE_OPS or op in DATE_OPS, op
        super().__init__(column)
        self.path, self.op, self.value = path, op, value

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        raise NotImplementedError("JsonMatch supports PostgreSQL and SQLite")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col_sql, col_params = compiler.compile(self.source_expressions[0])
        col_params = list(col_params)
        if not self.path and self.op == "eq":
            # A top-level list (tags): containment, which a GIN index can serve.
            return f"COALESCE({col_sql} @> %s::jsonb, false)", [*col_params, json.dumps(self.value)]
        general_sql, general_params = self._pg_general(col_sql, col_params)
        scalar = self._pg_scalar(col_sql, col_params)
        if scalar is None:
            return f"COALESCE({general_sql}, false)", general_params
        # The plain chain (`traits->'address'->>'country' IN (…)`) decides every row whose value
        # and parents are not lists, at the cost of the hand-written SQL; only rows where some step
        # is a list pay for jsonpath's lax semantics. Measured on 1M profiles / 20M events: a trait
        # filter 0.42 → 0.20 s, a numeric event condition 3.8 → 2.4 s (docs/benchmarks/audiences.md).
        scalar_sql, scalar_params = scalar
        guards, guard_params = [], []
        for depth in range(1, len(self.path) + 1):
            # As text, a list starts with "[" (so may a string, which only costs the slow check);
            # text extraction measured cheaper than jsonb_typeof's.
            chain, params = _pg_chain(col_sql, col_params, self.path[:depth], as_text=True)
            guards.append(f"{chain} LIKE '[%%'")
            guard_params += params
        sql = f"COALESCE(({scalar_sql}) OR (({' OR '.join(guards)}) AND {general_sql}), false)"
        return sql, [*scalar_params, *guard_params, *general_params]

    def _pg_scalar(self, col_sql: str, col_params: list[Any]) -> tuple[str, list[Any]] | None:
        """The condition on the single value at the path when no step is a list; None if there is none.

        True only where the lax jsonpath would be true too; exact wherever no step is a list.
        """
        op, value = self.op, self.value
        chain, chain_params = _pg_chain(col_sql, col_params, self.path)
        text, text_params = _pg_chain(col_sql, col_params, self.path, as_text=True)
        text = f"({text})"

        def typed(kind: str, condition: str, params: list[Any]) -> tuple[str, list[Any]]:
            # CASE, because only CASE guarantees the cast runs after the type check.
            return (
                f"(CASE WHEN jsonb_typeof({chain}) = '{kind}' THEN {condition} END)",
                [*chain_params, *text_params, *params],
            )

        if op in ("eq", "in"):
            values = [value] if op == "eq" else list(value)
            parts: list[tuple[str, list[Any]]] = []
            strings = [v for v in values if isinstance(v, str)]
            numbers = [v for v in values if is_number(v)]
            booleans = [v for v in values if isinstance(v, bool)]
            if len(strings) + len(numbers) + len(booleans) != len(values):
                return None  # objects, lists or null in the value: jsonpath alone
            if strings and all(_text_is_unambiguous(v) for v in strings):
                # ->> gives these texts only for JSON strings, so no type check is needed.
                marks = ", ".join(["%s"] * len(strings))
                parts.append((f"{text} IN ({marks})", [*text_params, *strings]))
            elif strings:
                parts.append(typed("string", f"{text} IN ({', '.join(['%s'] * len(strings))})", strings))
            if numbers:
                marks = ", ".join(["%s"] * len(numbers))
                parts.append(
                    typed("number", f"{text}::numeric IN ({marks})", [Decimal(str(n)) for n in numbers])
                )
            if booleans:
                parts.append(
                    typed("boolean", f"{text}::boolean IN ({', '.join(['%s'] * len(booleans))})", booleans)
                )
            return " OR ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]
        if op in SQL_OPS and is_number(value):
            return typed("number", f"{text}::numeric {SQL_OPS[op]} %s", [Decimal(str(value))])
        if op == "between" and is_number(value[0]) and is_number(value[1]):
            return typed(
                "number",
                f"{text}::numeric BETWEEN %s AND %s",
                [Decimal(str(value[0])), Decimal(str(value[1]))],
            )
        if op == "contains" and isinstance(value, str):
            return typed("string", f"strpos({text}, %s) > 0", [value])
        if op == "starts_with" and isinstance(value, str):
            return typed("string", f"starts_with({text}, %s)", [value])
        if op == "exists":
            return f"(jsonb_typeof({chain}) NOT IN ('null', 'array'))", list(chain_params)
        return None

    def _pg_general(self, col_sql: str, col_params: list[Any]) -> tuple[str, list[Any]]:
        base = _jsonpath(self.path)
        if self.op in DATE_OPS:
            return self._pg_dates(base, col_sql, list(col_params))
        op, value = self.op, self.value
        variables: dict[str, Any] = {}
        if op == "eq":
            flt, variables = "@ == $v", {"v": value}
        elif op == "in":
            flt, variables = "@ == $v[*]", {"v": value}
        elif op in SQL_OPS:
            flt, variables = f"@ {SQL_OPS[op]} $v", {"v": value}
        elif op == "between":
            flt, variables = "@ >= $lo && @ <= $hi", {"lo": value[0], "hi": value[1]}
        elif op == "contains":
            flt = f"@ like_regex {_regex_literal(value)}"
        elif op == "starts_with":
            flt, variables = "@ starts with $v", {"v": value}
        else:  # exists
            flt = '@.type() != "null"'
        sql = f"jsonb_path_exists({col_sql}, %s::jsonpath, %s::jsonb, true)"
        return sql, [*col_params, f"{base} ? ({flt})", json.dumps(variables, default=str)]

    def _pg_dates(self, base: str, col_sql: str, params: list[Any]) -> tuple[str, list[Any]]:
        if self.op == "date_between":
            cmp, bounds = "BETWEEN %s AND %s", [self.value[0], self.value[1]]
        else:
            cmp, bounds = f"{SQL_OPS[self.op[5:]]} %s", [self.value]
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_path_query({col_sql}, %s::jsonpath) AS _aj(v) "
            f"WHERE audiences_iso_ts(_aj.v #>> '{{}}') {cmp})"
        )
        return sql, [*params, f'{base} ? (@.type() == "string")', *bounds]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col_sql, col_params = compiler.compile(self.source_expressions[0])
        value = self.value
        if self.op in DATE_OPS:
            value = [v.isoformat() for v in value] if self.op == "date_between" else value.isoformat()
        return (
            f"voyage_json_match({col_sql}, %s, %s, %s)",
            [*col_params, json.dumps(self.path), self.op, json.dumps(value)],
        )


def _pg_chain(
    col_sql: str, col_params: list[Any], path: list[str], *, as_text: bool = False
) -> tuple[str, list[Any]]:
    """`col -> 'a' -> 'b'` (or `->> 'b'` as text): the value at an exact path, no list unwrapping."""
    if not path:
        return (f"({col_sql} #>> '{{}}')" if as_text else col_sql), list(col_params)
    arrows = [" -> "] * (len(path) - 1) + [" ->> " if as_text else " -> "]
    return col_sql + "".join(a + _sql_literal(seg) for a, seg in zip(arrows, path, strict=True)), list(
        col_params
    )


def _text_is_unambiguous(value: str) -> bool:
    """True when `->>` can yield this text only from a JSON string (not a number, boolean, list…)."""
    if value[:1] in ("[", "{"):
        return False
    try:
        json.loads(value)
    except ValueError:
        return True
    return False


def _sql_literal(text: str) -> str:
    # Quoted for SQL, and % doubled because Django formats the SQL with its parameters.
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def json_value_number(column: str, path: list[str]) -> Func:
    """The number at an exact path (no list unwrapping), or NULL when it is absent or not a number."""
    return _JsonNumber(column, path=path)


class _JsonNumber(Func):
    def __init__(self, column: str, *, path: list[str]) -> None:
        # SQLite sums JSON numbers as floats; PostgreSQL as exact numerics.
        output = (
            FloatField() if connection.vendor == "sqlite" else DecimalField(max_digits=30, decimal_places=6)
        )
        super().__init__(F(column), output_field=output)
        self.path = path

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col_sql, params = compiler.compile(self.source_expressions[0])
        # Chains of ->/->> with literal keys: measurably faster per row than #> with a text[] path.
        chain, _ = _pg_chain(col_sql, params, self.path)
        text, _ = _pg_chain(col_sql, params, self.path, as_text=True)
        sql = f"(CASE WHEN jsonb_typeof({chain}) = 'number' THEN ({text})::numeric END)"
        return sql, [*params, *params]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col_sql, params = compiler.compile(self.source_expressions[0])
        jp = '$."' + '"."'.join(self.path) + '"'
        sql = (
            f"(CASE WHEN json_type({col_sql}, %s) IN ('integer', 'real') "
            f"THEN json_extract({col_sql}, %s) END)"
        )
        return sql, [*params, jp, *params, jp]


# --- SQLite ------------------------------------------------------------------------------------


def _values_at(doc: Any, path: list[str]) -> list[Any]:
    current = [doc]
    for seg in path:
        nxt = []
        for item in current:
            for x in item if isinstance(item, list) else [item]:
                if isinstance(x, dict) and seg in x:
                    nxt.append(x[seg])
        current = nxt
    out: list[Any] = []
    for item in current:
        out.extend(item if isinstance(item, list) else [item])
    return out


def _same_type_eq(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _predicate(op: str, value: Any, item: Any) -> bool:
    if op == "exists":
        return item is not None
    if op == "eq":
        return _same_type_eq(item, value)
    if op == "in":
        return any(_same_type_eq(item, v) for v in value)
    if op in SQL_OPS or op == "between":
        if not is_number(item):
            return False
        if op == "between":
            return value[0] <= item <= value[1]
        return {"gt": item > value, "gte": item >= value, "lt": item < value, "lte": item <= value}[op]
    if op == "contains":
        return isinstance(item, str) and value in item
    if op == "starts_with":
        return isinstance(item, str) and item.startswith(value)
    when = parse_iso(item)
    if when is None:
        return False
    if op == "date_between":
        return datetime.fromisoformat(value[0]) <= when <= datetime.fromisoformat(value[1])
    bound = datetime.fromisoformat(value)
    return {
        "date_gt": when > bound,
        "date_gte": when >= bound,
        "date_lt": when < bound,
        "date_lte": when <= bound,
    }[op]


def sqlite_json_match(doc: str | None, path: str, op: str, value: str) -> int:
    if doc is None:
        return 0
    try:
        parsed = json.loads(doc)
    except ValueError:
        return 0
    wanted = json.loads(value)
    return int(any(_predicate(op, wanted, item) for item in _values_at(parsed, json.loads(path))))


def sqlite_functions_register(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("voyage_json_match", 4, sqlite_json_match, deterministic=True)


__all__ = ["JsonMatch", "json_value_number", "sqlite_functions_register"]
