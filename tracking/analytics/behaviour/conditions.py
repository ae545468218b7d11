"""The one seam between behaviour analytics and the condition language (property, op, value).

Funnel steps, exclusions and retention events filter on event properties with the same conditions
audiences and journeys use: tracking/conditions.py, one meaning written once (docs/audiences.md,
"Conditions"). This module only adapts its answers to analytics' shapes: errors as (path, message)
pairs, a list of conditions ANDed into one SQL expression.
"""

from __future__ import annotations

from typing import Any

from tracking.conditions import OPS, condition_sql, condition_validate

__all__ = ["OPS", "condition_errors", "conditions_sql"]


def condition_errors(*, cond: Any, path: str) -> list[tuple[str, str]]:
    """Every problem of one `{"property": PATH, "op": OP, "value": V}` at `path`, as (path, message)."""
    return [(error.path, error.message) for error in condition_validate(cond=cond, path=path)]


def conditions_sql(*, conds: list[dict[str, Any]], column: str) -> tuple[str, list[Any]]:
    """All (valid) conditions ANDed over the jsonb `column` (TRUE for none); never NULL."""
    parts, params = [], []
    for cond in conds:
        sql, p = condition_sql(cond=cond, column=column)
        parts.append(sql)
        params += p
    return (" AND ".join(parts) if parts else "TRUE"), params
