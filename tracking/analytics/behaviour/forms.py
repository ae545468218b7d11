"""The pages' query strings ⇄ analysis definitions (the JSON the API takes), so a page, a saved
analysis and an API call describe the same thing the same way."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from django.http import QueryDict

UNITS = {"minute": 1, "hour": 60, "day": 1440}


def _value(text: str) -> Any:
    """A condition's value as typed: JSON when it parses (numbers, true/false, lists), else text.

    Type "12" with quotes to compare with the string "12" (conditions are type-strict)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _where(prop: str, op: str, value: str) -> list[dict[str, Any]]:
    if not prop.strip():
        return []
    cond: dict[str, Any] = {"property": prop.strip(), "op": op or "eq"}
    if op not in ("exists", "not_exists"):
        cond["value"] = _value(value)
    return [cond]


def default_range(days: int = 30) -> dict[str, str]:
    today = date.today()
    return {"date_from": (today - timedelta(days=days - 1)).isoformat(), "date_to": today.isoformat()}


def _breakdown(q: QueryDict) -> list[dict[str, Any]]:
    out = []
    for kind, key in zip(q.getlist("bd_kind"), q.getlist("bd_key"), strict=False):
        if kind:
            out.append({"kind": kind, **({"key": key.strip()} if kind in ("property", "trait") else {})})
    return out


def _range(q: QueryDict) -> dict[str, Any]:
    out: dict[str, Any] = {
        "date_from": q.get("date_from", ""),
        "date_to": q.get("date_to", ""),
        "tz": q.get("tz") or "utc",
    }
    if q.get("compare_from") or q.get("compare_to"):
        out["compare"] = {"date_from": q.get("compare_from", ""), "date_to": q.get("compare_to", "")}
    return out


def definition_from_query(kind: str, q: QueryDict) -> dict[str, Any] | None:
    """The definition a page's query string describes; None when the page was opened bare."""
    if q.get("definition"):
        try:
            raw = json.loads(q["definition"])
        except ValueError:
            return {"_error": "definition is not valid JSON"}
        return raw
    if kind == "funnel":
        if "step" not in q:
            return None
        steps = []
        props, ops, values = q.getlist("prop"), q.getlist("op"), q.getlist("value")
        for i, event in enumerate(q.getlist("step")):
            if not event.strip():
                continue
            where = _where(
                props[i] if i < len(props) else "",
                ops[i] if i < len(ops) else "eq",
                values[i] if i < len(values) else "",
            )
            steps.append({"event": event.strip(), **({"where": where} if where else {})})
        try:
            window = int(q.get("window", "0")) * UNITS.get(q.get("window_unit", "day"), 1440)
        except ValueError:
            window = -1
        raw: dict[str, Any] = {
            "steps": steps,
            "order": q.get("order") or "sequential",
            "window_minutes": window,
            "breakdown": _breakdown(q),
            **_range(q),
        }
        if q.get("ex_event", "").strip():
            try:
                lo, hi = int(q.get("ex_from", "")), int(q.get("ex_to", ""))
            except ValueError:
                lo, hi = 0, 0
            raw["exclusions"] = [{"event": q["ex_event"].strip(), "from_step": lo, "to_step": hi}]
        return raw
    if kind == "retention":
        if "start" not in q:
            return None
        try:
            periods = int(q.get("periods", ""))
        except ValueError:
            periods = -1
        raw = {
            "start": {
                "event": q.get("start", "").strip(),
                "where": _where(q.get("start_prop", ""), q.get("start_op", "eq"), q.get("start_value", "")),
            },
            "return": {
                "event": q.get("return", "").strip(),
                "where": _where(
                    q.get("return_prop", ""), q.get("return_op", "eq"), q.get("return_value", "")
                ),
            },
            "mode": q.get("mode") or "first_time",
            "period": q.get("period") or "week",
            "periods": periods,
            "breakdown": _breakdown(q),
            **_range(q),
        }
        raw.pop("compare", None)
        return raw
    # Search, slots, affinity, new products: flat options.
    if "date_from" not in q:
        return None
    raw = {k: v for k, v in q.items() if k not in ("export", "definition", "save_name")}
    return raw


def funnel_default() -> dict[str, Any]:
    return {
        "steps": [
            {"event": "Product Viewed"},
            {"event": "Product Added"},
            {"event": "Checkout Started"},
            {"event": "Order Completed"},
        ],
        "order": "sequential",
        "window_minutes": 7 * 1440,
        "breakdown": [],
        "tz": "utc",
        **default_range(),
    }


def retention_default() -> dict[str, Any]:
    today = date.today()
    return {
        "start": {"event": "Order Completed"},
        "return": {"event": "Order Completed"},
        "mode": "first_time",
        "period": "week",
        "periods": 8,
        "breakdown": [],
        "tz": "utc",
        "date_from": (today - timedelta(weeks=12)).isoformat(),
        "date_to": today.isoformat(),
    }


def funnel_form(raw: dict[str, Any]) -> dict[str, Any]:
    """What the builder's inputs show for a definition (10 step rows, 3 breakdown rows)."""
    steps = raw.get("steps") if isinstance(raw.get("steps"), list) else []
    rows = []
    for i in range(10):
        step = steps[i] if i < len(steps) and isinstance(steps[i], dict) else {}
        where = step.get("where") or [{}]
        cond = where[0] if isinstance(where, list) and where and isinstance(where[0], dict) else {}
        rows.append(
            {
                "n": i + 1,
                "event": step.get("event", ""),
                "prop": cond.get("property", ""),
                "op": cond.get("op", "eq"),
                "value": json.dumps(cond["value"])
                if "value" in cond and not isinstance(cond["value"], str)
                else cond.get("value", ""),
                "more": len(where) > 1,
            }
        )
    window = raw.get("window_minutes") if isinstance(raw.get("window_minutes"), int) else 1440
    unit = "day" if window % 1440 == 0 else "hour" if window % 60 == 0 else "minute"
    ex = (raw.get("exclusions") or [{}])[0] if isinstance(raw.get("exclusions"), list) else {}
    return {
        "rows": rows,
        "window": window // UNITS[unit],
        "window_unit": unit,
        "ex": ex if isinstance(ex, dict) else {},
        "breakdown": breakdown_form(raw),
        "compare": raw.get("compare") if isinstance(raw.get("compare"), dict) else {},
    }


def breakdown_form(raw: dict[str, Any]) -> list[dict[str, str]]:
    dims = raw.get("breakdown") if isinstance(raw.get("breakdown"), list) else []
    out = []
    for i in range(3):
        dim = dims[i] if i < len(dims) and isinstance(dims[i], dict) else {}
        out.append({"kind": dim.get("kind", ""), "key": dim.get("key", "")})
    return out


def retention_form(raw: dict[str, Any]) -> dict[str, Any]:
    def spec(key: str) -> dict[str, Any]:
        s = raw.get(key) if isinstance(raw.get(key), dict) else {}
        where = s.get("where") or [{}]
        cond = where[0] if isinstance(where, list) and where and isinstance(where[0], dict) else {}
        value = cond.get("value", "")
        return {
            "event": s.get("event", ""),
            "prop": cond.get("property", ""),
            "op": cond.get("op", "eq"),
            "value": value if isinstance(value, str) else json.dumps(value),
        }

    return {"start": spec("start"), "return": spec("return"), "breakdown": breakdown_form(raw)}
