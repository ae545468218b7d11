"""System health: what each floor registers about its own backlog, read by the admin's System health
page and exported to Prometheus; plus the readiness checks (database, broker, migrations).

Core imports no floor above it, so floors register their figures here (in their AppConfig.ready):

    health_gauge_register(
        name="voyage_events_pending", help="Events received and not yet resolved to profiles",
        read=events_pending_count, warn_above=10_000, fail_above=200_000, unit="events",
        explain="Ingestion is ahead of processing; check the workers (queue tracking).",
    )

A reading is one plain number; thresholds turn it into ok / warn / fail, and the worst state of all
readings is the verdict, said in plain words on the page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

State = Literal["ok", "warn", "fail", "unknown"]
_RANK = {"ok": 0, "unknown": 1, "warn": 2, "fail": 3}


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    read: Callable[[], float]
    unit: str = ""
    warn_above: float | None = None
    fail_above: float | None = None
    explain: str = ""  # what to do when it is over a threshold, in plain words
    link: str = ""  # where to look (an admin page) when it is over a threshold


@dataclass(frozen=True)
class Reading:
    gauge: Gauge
    value: float | None
    state: State
    error: str = ""


_GAUGES: dict[str, Gauge] = {}


def health_gauge_register(
    *,
    name: str,
    help: str,
    read: Callable[[], float],
    unit: str = "",
    warn_above: float | None = None,
    fail_above: float | None = None,
    explain: str = "",
    link: str = "",
) -> None:
    _GAUGES[name] = Gauge(name, help, read, unit, warn_above, fail_above, explain, link)


def sql_scalar(sql: str, params: list | None = None) -> float:
    """One number from one query (0 when it returns no row or NULL): what most gauges read."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cur:
        cur.execute(sql, params or [])
        row = cur.fetchone()
    return float(row[0] or 0) if row else 0.0


def health_backlog_register(
    *,
    name: str,
    what: str,
    table: str,
    where: str,
    since: str,
    order: str | None = None,
    unit: str,
    count_warn: float | None = None,
    count_fail: float | None = None,
    age_warn: float | None = None,
    age_fail: float | None = None,
    explain: str = "",
) -> None:
    """A queue of work waiting in a table: how many rows (`name`) and how long the oldest has waited
    (`name`_oldest_seconds, from its `since` column). `order` (default `since`) should lead a partial
    index whose condition is `where`, so the age is one index probe however long the queue is."""
    health_gauge_register(
        name=name,
        help=what,
        read=lambda: sql_scalar(f"SELECT count(*) FROM {table} WHERE {where}"),
        unit=unit,
        warn_above=count_warn,
        fail_above=count_fail,
        explain=explain,
    )
    health_gauge_register(
        name=f"{name}_oldest_seconds",
        help=f"{what}: how long the oldest has waited",
        read=lambda: sql_scalar(
            f"SELECT EXTRACT(EPOCH FROM now() - {since}) FROM {table} WHERE {where} "
            f"ORDER BY {order or since} LIMIT 1"
        ),
        unit="s",
        warn_above=age_warn,
        fail_above=age_fail,
        explain=explain,
    )


def health_gauges() -> list[Gauge]:
    return sorted(_GAUGES.values(), key=lambda g: g.name)


def _state(gauge: Gauge, value: float) -> State:
    if gauge.fail_above is not None and value > gauge.fail_above:
        return "fail"
    if gauge.warn_above is not None and value > gauge.warn_above:
        return "warn"
    return "ok"


def health_readings() -> list[Reading]:
    """Every registered figure, read now. A figure that cannot be read is 'unknown', never a crash:
    the page and the metrics endpoint must work best when something is broken."""
    readings = []
    for gauge in health_gauges():
        try:
            value = float(gauge.read())
        except Exception as exc:  # noqa: BLE001 — any failure to read is itself the news
            logger.warning("health gauge %s could not be read: %s", gauge.name, exc)
            readings.append(Reading(gauge, None, "unknown", str(exc)[:200]))
            continue
        readings.append(Reading(gauge, value, _state(gauge, value)))
    return readings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cur:
            cur.execute("SELECT 1")
        return Check("database", True, "answers")
    except Exception as exc:  # noqa: BLE001
        return Check("database", False, f"unreachable: {exc.__class__.__name__}")


def check_migrations() -> Check:
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001
        return Check("migrations", False, f"cannot be read: {exc.__class__.__name__}")
    if plan:
        return Check("migrations", False, f"{len(plan)} not applied (run manage.py migrate)")
    return Check("migrations", True, "all applied")


def check_broker() -> Check:
    from django.conf import settings

    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return Check("broker", True, "tasks run in-process (no broker configured)")
    from celery import current_app

    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return Check("broker", True, "answers")
    except Exception as exc:  # noqa: BLE001
        return Check("broker", False, f"unreachable: {exc.__class__.__name__}")


def readiness_checks() -> list[Check]:
    return [check_database(), check_broker(), check_migrations()]


def health_verdict(*, checks: list[Check], readings: list[Reading]) -> tuple[State, str]:
    """The worst state, and one sentence a non-engineer can act on."""
    down = [c for c in checks if not c.ok]
    if down:
        return "fail", "Voyage is not working: " + "; ".join(f"{c.name} {c.detail}" for c in down) + "."
    worst = max((r.state for r in readings), key=_RANK.__getitem__, default="ok")
    trouble = [r for r in readings if r.state in ("fail", "warn")]
    if worst == "fail":
        return "fail", "Work is stuck or far behind: " + "; ".join(
            r.gauge.help.lower() for r in trouble
        ) + "."
    if worst == "warn":
        return "warn", "Work is backing up: " + "; ".join(r.gauge.help.lower() for r in trouble) + "."
    if worst == "unknown":
        return "unknown", "Some figures could not be read; the rest look normal."
    return "ok", "Everything is running and nothing is waiting longer than it should."
