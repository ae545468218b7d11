"""The report figures computed in Python from ORM rows: the path for SQLite (the demo), where the
set-based SQL of facts.py (date_trunc in a zone, jsonb, LATERAL, data-modifying CTEs) does not run.

Each function here mirrors one query of facts.py and reads the same Window, so both paths give the
same figures; tests/test_report_engines.py runs both over the same PostgreSQL rows and compares
every rollup row and every report. It moves rows into Python, so it is for demo sizes (thousands
of messages), not the 20-million-event campaigns PostgreSQL's path is built for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from channels.models import Message, MessageEvent
from journeys.models import BroadcastRecipient, Run, RunStep
from journeys.reports import facts
from journeys.reports.facts import FAILED_NOT_SENT, OPEN_KINDS, SKIP_REASONS, Window
from journeys.reports.models import (
    COUNT_METRICS,
    DECIMAL_METRICS,
    METRICS,
    ConversionFact,
    MessageCost,
    MessageFirst,
)
from tracking.models import Event, Profile

Campaign = tuple[str, int] | None
# campaign_kind, campaign_id, stage_key, variant, channel, template_id, hour, local_hour
Key = tuple[str, int, str, str, str, int, datetime, datetime]
CHUNK = 500  # ids per IN (...): SQLite caps the number of parameters of a statement
SIX = Decimal("0.000001")
_NUMERIC = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*", re.ASCII)
MESSAGE_FIELDS = ("campaign_kind", "campaign_id", "stage_key", "variant", "channel", "template_id")


def chunks(ids: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(ids)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


class Deltas:
    """Sums per rollup key, as the SQL's GROUP BY over its UNION ALL."""

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, Any]] = {}

    def add(self, key: Key, figures: dict[str, Any]) -> None:
        row = self.rows.setdefault(key, {})
        for metric, value in figures.items():
            if value:
                row[metric] = row.get(metric, 0) + value

    def nonzero(self) -> Iterator[tuple[Key, dict[str, Any]]]:
        """Rows with a figure other than 0 (the SQL's HAVING), every metric present and typed."""
        for key, row in self.rows.items():
            if any(row.values()):
                yield key, metric_values(row)


def metric_values(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {m: int(row.get(m) or 0) for m in COUNT_METRICS}
    out.update({m: Decimal(row.get(m) or 0) for m in DECIMAL_METRICS})
    return out


# --- time ----------------------------------------------------------------------------------------


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Zones:
    """Each profile's zone as facts._zone reads it: its own when known, else the workspace's."""

    def __init__(self) -> None:
        self.known = frozenset(facts.known_zones())
        self.workspace = settings.TIME_ZONE
        self.by_profile: dict[int, str] = {}

    def load(self, profile_ids: Iterable[int]) -> Zones:
        missing = {int(p) for p in profile_ids if p is not None} - set(self.by_profile)
        for part in chunks(sorted(missing)):
            for pid, name in Profile.objects.filter(pk__in=part).values_list("pk", "timezone"):
                self.by_profile[pid] = name if name in self.known else self.workspace
        return self

    def local_hour(self, at: datetime, profile_id: int) -> datetime:
        """The recipient's wall-clock hour, labelled UTC (as HourlyRollup.local_hour stores it)."""
        zone = _zone(self.by_profile.get(profile_id, self.workspace))
        local = at.astimezone(zone)
        return datetime(local.year, local.month, local.day, local.hour, tzinfo=UTC)


def message_key(m: dict[str, Any], at: datetime, zones: Zones) -> Key:
    return (
        m["campaign_kind"],
        m["campaign_id"],
        m["stage_key"],
        m["variant"],
        m["channel"],
        m["template_id"] or 0,
        hour_of(at),
        zones.local_hour(at, m["profile_id"]),
    )


def campaign_q(campaign: Campaign, prefix: str = "") -> Q:
    if campaign is None:
        return Q(
            **{f"{prefix}campaign_kind__in": facts.CAMPAIGN_KINDS, f"{prefix}campaign_id__isnull": False}
        )
    return Q(**{f"{prefix}campaign_kind": campaign[0], f"{prefix}campaign_id": campaign[1]})


def _in_b(w: Window, source: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if w.b_has(source, r["id"])]


def _messages(ids: Iterable[int], extra: Q | None = None) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for part in chunks(sorted(set(ids))):
        qs = Message.objects.filter(pk__in=part)
        if extra is not None:
            qs = qs.filter(extra)
        for m in qs.values("id", "profile_id", "sent_at", "cost", "idempotency_key", *MESSAGE_FIELDS):
            out[m["id"]] = m
    return out


# --- sources (facts.messages_sql, events_sql, costs_sql, runs_sql, recipients_sql) ---------------


def messages_add(acc: Deltas, w: Window, campaign: Campaign, zones: Zones) -> None:
    qs = Message.objects.filter(w.b_q("message"), campaign_q(campaign))
    rows = _in_b(w, "message", qs.values("id", "profile_id", "created_at", *MESSAGE_FIELDS))
    zones.load(r["profile_id"] for r in rows)
    for m in rows:
        acc.add(message_key(m, m["created_at"], zones), {"targeted": 1})


def _reason(data: Any) -> Any:
    return data.get("reason") if isinstance(data, dict) else None


def event_figures(kind: str, reason: Any) -> dict[str, int]:
    """What one timeline entry adds (facts.events_sql's totals)."""
    f: dict[str, int] = {}
    if kind == "skipped":
        f["skip_" + reason if reason in SKIP_REASONS else "skip_other"] = 1
    elif kind == "failed":
        f["failed"] = 1
        if reason == FAILED_NOT_SENT[0]:
            f["skip_provider_rejected"] = 1
        elif reason == FAILED_NOT_SENT[1]:
            f["skip_other"] = 1
    elif kind == "deferred" and reason == "quiet_hours":
        f["deferred_quiet_hours"] = 1
    simple = {
        "sent": "sent",
        "delivered": "delivered",
        "bounced": "bounced",
        "dropped": "failed",
        "opened": "opens_total",
        "read": "opens_total",
        "clicked": "clicks_total",
        "unsubscribed": "unsubscribes",
        "spam_report": "spam_reports",
    }
    if kind in simple:
        f[simple[kind]] = 1
    return f


def events_add(acc: Deltas, w: Window, campaign: Campaign, zones: Zones) -> None:
    qs = MessageEvent.objects.filter(w.b_q("event"), campaign_q(campaign, "message__"))
    rows = _in_b(w, "event", qs.values("id", "message_id", "kind", "at", "data"))
    messages = _messages(r["message_id"] for r in rows)
    zones.load(m["profile_id"] for m in messages.values())
    for e in rows:
        acc.add(
            message_key(messages[e["message_id"]], e["at"], zones),
            event_figures(e["kind"], _reason(e["data"])),
        )
    # Unique opens/clicks: once per message in the hour of its first id; an earlier id moves it.
    folded_firsts: dict[int, tuple[int | None, int | None]] = {}
    if w.mode not in ("raw", "rebuild"):
        for part in chunks(sorted({e["message_id"] for e in rows if e["kind"] in OPEN_KINDS})):
            for mid, first_open, first_click in MessageFirst.objects.filter(message_id__in=part).values_list(
                "message_id", "first_open_id", "first_click_id"
            ):
                folded_firsts[mid] = (first_open, first_click)
    at_of = {e["id"]: e["at"] for e in rows}
    moves: list[tuple[str, int, int, int]] = []  # metric, message, event id, sign
    for metric, kinds, column in (("opens_unique", OPEN_KINDS, 0), ("clicks_unique", ("clicked",), 1)):
        firsts: dict[int, int] = {}
        for e in rows:
            if e["kind"] in kinds and (e["message_id"] not in firsts or e["id"] < firsts[e["message_id"]]):
                firsts[e["message_id"]] = e["id"]
        for mid, b_id in firsts.items():
            f_id = folded_firsts.get(mid, (None, None))[column]
            if f_id is None or b_id < f_id:
                moves.append((metric, mid, b_id, 1))
            if f_id is not None and b_id < f_id:
                moves.append((metric, mid, f_id, -1))
    missing = [eid for _, _, eid, _ in moves if eid not in at_of]
    for part in chunks(missing):
        at_of.update(MessageEvent.objects.filter(pk__in=part).values_list("pk", "at"))
    for metric, mid, eid, sign in moves:
        if eid in at_of:  # an event deleted since it was folded has nothing to move
            acc.add(message_key(messages[mid], at_of[eid], zones), {metric: sign})


def costs_touched(w: Window, campaign: Campaign) -> list[int]:
    """Messages whose provider price this window (re)reads (facts.costs_sql's `touched`)."""
    if w.mode in ("rebuild", "raw"):
        ids = list(
            Message.objects.filter(campaign_q(campaign), cost__isnull=False).values_list("pk", flat=True)
        )
        if w.mode == "rebuild":
            # Prices of messages whose events are all folded (a price comes with its event).
            unfolded = set()
            for part in chunks(ids):
                for eid, mid in MessageEvent.objects.filter(message_id__in=part).values_list(
                    "pk", "message_id"
                ):
                    if not w.b_has("event", eid):
                        unfolded.add(mid)
            ids = [i for i in ids if i not in unfolded]
        return ids
    qs = MessageEvent.objects.filter(w.b_q("event")).values("id", "message_id")
    return sorted({e["message_id"] for e in _in_b(w, "event", qs)})


def costs_now(ids: list[int], campaign: Campaign, zones: Zones) -> dict[int, tuple[Decimal, Key]]:
    """The price each message carries now, and where it is counted (its send hour)."""
    messages = _messages(ids, campaign_q(campaign) & Q(cost__isnull=False, sent_at__isnull=False))
    zones.load(m["profile_id"] for m in messages.values())
    return {mid: (abs(m["cost"]), message_key(m, m["sent_at"], zones)) for mid, m in messages.items()}


def costs_add(acc: Deltas, w: Window, campaign: Campaign, zones: Zones, *, state: bool) -> None:
    touched = costs_touched(w, campaign)
    now = costs_now(touched, campaign, zones)
    old: dict[int, tuple[Decimal, Key]] = {}
    if state:
        for part in chunks(touched):
            for s in MessageCost.objects.filter(campaign_q(campaign), message_id__in=part):
                key = (s.campaign_kind, s.campaign_id, s.stage_key, s.variant, s.channel, s.template_id)
                old[s.message_id] = (s.amount, (*key, s.hour, s.local_hour))
    for mid, (amount, key) in now.items():
        before = old.get(mid)
        if before is None or before[0] != amount or before[1][6:] != key[6:]:
            acc.add(key, {"cost_provider": amount})
    for mid, (amount, key) in old.items():
        after = now.get(mid)
        if after is None or after[0] != amount or after[1][6:] != key[6:]:
            acc.add(key, {"cost_provider": -amount})


def runs_add(acc: Deltas, w: Window, campaign: Campaign, zones: Zones) -> None:
    if campaign is not None and campaign[0] != "journey":
        return
    journey = Q() if campaign is None else Q(journey_id=campaign[1])
    runs = _in_b(
        w,
        "run",
        Run.objects.filter(w.b_q("run"), journey).values(
            "id", "journey_id", "profile_id", "holdout", "entered_at"
        ),
    )
    steps = _in_b(
        w,
        "step",
        RunStep.objects.filter(
            w.b_q("step"), Q() if campaign is None else Q(run__journey_id=campaign[1])
        ).values("id", "stage_key", "at", "run__journey_id", "run__profile_id"),
    )
    zones.load([r["profile_id"] for r in runs] + [s["run__profile_id"] for s in steps])
    for r in runs:
        at = r["entered_at"]
        key = ("journey", r["journey_id"], "", "", "", 0, hour_of(at), zones.local_hour(at, r["profile_id"]))
        acc.add(key, {"holdout_entered": 1} if r["holdout"] else {"entered": 1})
    for s in steps:
        at = s["at"]
        local = zones.local_hour(at, s["run__profile_id"])
        acc.add(
            ("journey", s["run__journey_id"], s["stage_key"], "", "", 0, hour_of(at), local),
            {"stage_entered": 1},
        )


def broadcast_key(broadcast_id: int, occurrence: int, profile_id: int) -> str:
    return f"broadcast:{broadcast_id}:{occurrence}:{profile_id}"


def recipients_add(acc: Deltas, w: Window, campaign: Campaign, zones: Zones) -> None:
    if campaign is not None and campaign[0] != "broadcast":
        return
    qs = BroadcastRecipient.objects.filter(w.b_q("recipient"))
    if campaign is not None:
        qs = qs.filter(broadcast_id=campaign[1])
    rows = _in_b(
        w,
        "recipient",
        qs.values(
            "id", "broadcast_id", "occurrence", "profile_id", "variant", "sent_at", "broadcast__channel"
        ),
    )
    keys = {broadcast_key(r["broadcast_id"], r["occurrence"], r["profile_id"]): r for r in rows}
    messages: dict[str, tuple[str, int | None]] = {}
    for part in chunks(sorted(keys)):
        for key, channel, template in Message.objects.filter(idempotency_key__in=part).values_list(
            "idempotency_key", "channel", "template_id"
        ):
            messages[key] = (channel, template)
    zones.load(r["profile_id"] for r in rows)
    for key, r in keys.items():
        channel, template = messages.get(key, (r["broadcast__channel"], None))
        at = r["sent_at"]
        local = zones.local_hour(at, r["profile_id"])
        acc.add(
            ("broadcast", r["broadcast_id"], "", r["variant"], channel, template or 0, hour_of(at), local),
            {"entered": 1},
        )


def deltas_add(acc: Deltas, w: Window, campaign: Campaign, *, cost_state: bool, zones: Zones) -> None:
    """Every id-source delta of a window (fold.deltas_sql)."""
    messages_add(acc, w, campaign, zones)
    events_add(acc, w, campaign, zones)
    costs_add(acc, w, campaign, zones, state=cost_state)
    runs_add(acc, w, campaign, zones)
    recipients_add(acc, w, campaign, zones)


# --- conversions (facts.conversions_candidates_sql, conversions_sql) -----------------------------


@dataclass
class Conversion:
    source: str  # run | recipient
    source_id: int
    campaign_kind: str
    campaign_id: int
    profile_id: int
    holdout: bool
    converted_at: datetime
    revenue: Decimal
    run_id: int | None
    message_key: str | None


def revenue_of(properties: Any) -> Decimal:
    """properties.revenue as facts.REVENUE reads it: numbers and numeric strings, else 0."""
    value = properties.get("revenue") if isinstance(properties, dict) else None
    if isinstance(value, bool) or value is None:
        amount = Decimal(0)
    elif isinstance(value, int | float):
        amount = Decimal(str(value))
    elif isinstance(value, str) and _NUMERIC.fullmatch(value):
        amount = Decimal(value.strip())
    else:
        amount = Decimal(0)
    return amount.quantize(SIX, rounding=ROUND_HALF_UP)


def _unfolded(source: str, ids: list[int]) -> set[int]:
    done: set[int] = set()
    for part in chunks(ids):
        done.update(
            ConversionFact.objects.filter(source=source, source_id__in=part).values_list(
                "source_id", flat=True
            )
        )
    return set(ids) - done


def conversion_candidates(w: Window, campaign: Campaign) -> list[Conversion]:
    """Journey runs that reached their goal and broadcast recipients who did the broadcast's
    conversion event within the window after their message was sent, not folded yet."""
    out: list[Conversion] = []
    pending = None if w.mode in ("raw", "rebuild") else sorted(set(w.pending_profiles or []))
    days = int(getattr(settings, "REPORTS_BROADCAST_CONVERSION_DAYS", 7))

    def by_profile(qs, values: tuple[str, ...]) -> list[dict[str, Any]]:
        if pending is None:
            return list(qs.values(*values))
        return [r for part in chunks(pending) for r in qs.filter(profile_id__in=part).values(*values)]

    if campaign is None or campaign[0] == "journey":
        runs = Run.objects.filter(converted_at__isnull=False)
        if campaign is not None:
            runs = runs.filter(journey_id=campaign[1])
        rows = by_profile(
            runs, ("id", "journey_id", "profile_id", "holdout", "converted_at", "conversion_event_id")
        )
        if w.mode != "raw":
            todo = _unfolded("run", [r["id"] for r in rows])
            rows = [r for r in rows if r["id"] in todo]
        props: dict[int, Any] = {}
        for part in chunks(sorted({r["conversion_event_id"] for r in rows if r["conversion_event_id"]})):
            props.update(Event.objects.filter(pk__in=part).values_list("pk", "properties"))
        for r in rows:
            event = r["conversion_event_id"]
            out.append(
                Conversion(
                    "run", r["id"], "journey", r["journey_id"], r["profile_id"], r["holdout"], r["converted_at"],
                    revenue_of(props.get(event)) if event in props else Decimal(0), r["id"], None,
                )
            )  # fmt: skip
    if campaign is None or campaign[0] == "broadcast":
        rcpts = BroadcastRecipient.objects.exclude(broadcast__conversion_event="")
        if campaign is not None:
            rcpts = rcpts.filter(broadcast_id=campaign[1])
        rows = by_profile(
            rcpts, ("id", "broadcast_id", "occurrence", "profile_id", "broadcast__conversion_event")
        )
        if w.mode != "raw":
            todo = _unfolded("recipient", [r["id"] for r in rows])
            rows = [r for r in rows if r["id"] in todo]
        keys = {r["id"]: broadcast_key(r["broadcast_id"], r["occurrence"], r["profile_id"]) for r in rows}
        sent: dict[str, datetime] = {}
        for part in chunks(sorted(set(keys.values()))):
            sent.update(
                Message.objects.filter(idempotency_key__in=part, sent_at__isnull=False).values_list(
                    "idempotency_key", "sent_at"
                )
            )
        rows = [r for r in rows if keys[r["id"]] in sent]
        events: dict[tuple[int, str], list[tuple[datetime, int, Any]]] = {}
        names = sorted({r["broadcast__conversion_event"] for r in rows})
        for part in chunks(sorted({r["profile_id"] for r in rows})):
            qs = Event.objects.filter(profile_id__in=part, name__in=names).order_by("timestamp", "id")
            for pid, name, ts, eid, properties in qs.values_list(
                "profile_id", "name", "timestamp", "id", "properties"
            ):
                events.setdefault((pid, name), []).append((ts, eid, properties))
        for r in rows:
            at = sent[keys[r["id"]]]
            until = at + timedelta(days=days)
            first = next(
                (
                    e
                    for e in events.get((r["profile_id"], r["broadcast__conversion_event"]), [])
                    if at < e[0] <= until
                ),
                None,
            )
            if first is not None:
                out.append(
                    Conversion(
                        "recipient", r["id"], "broadcast", r["broadcast_id"], r["profile_id"], False, first[0],
                        revenue_of(first[2]), None, keys[r["id"]],
                    )
                )  # fmt: skip
    return out


def _share(amount: Decimal, n: int) -> Decimal:
    return (amount / n).quantize(SIX, rounding=ROUND_HALF_UP)


def conversions_add(acc: Deltas, convs: list[Conversion], zones: Zones) -> None:
    """Credit conversions to the messages that touched them (last, first, linear); a conversion no
    message touched, or a holdout one, is credited to the campaign alone."""
    treated = [c for c in convs if not c.holdout]
    journey = [c for c in treated if c.run_id is not None]
    touches: dict[tuple[str, int], list[dict[str, Any]]] = {}
    by_prefix = {(c.profile_id, f"journey-run:{c.run_id}:"): c for c in journey}
    for part in chunks(sorted({c.profile_id for c in journey})):
        qs = Message.objects.filter(
            profile_id__in=part, campaign_kind="journey", campaign_id__in={c.campaign_id for c in journey},
            sent_at__isnull=False, idempotency_key__startswith="journey-run:",
        )  # fmt: skip
        for m in qs.values("id", "profile_id", "sent_at", "idempotency_key", *MESSAGE_FIELDS):
            run_part = m["idempotency_key"][len("journey-run:") :].split(":", 1)[0]
            c = by_prefix.get((m["profile_id"], f"journey-run:{run_part}:"))
            if c is not None and m["campaign_id"] == c.campaign_id and m["sent_at"] <= c.converted_at:
                touches.setdefault((c.source, c.source_id), []).append(m)
    keyed = {c.message_key: c for c in treated if c.message_key is not None}
    for part in chunks(sorted(keyed)):
        qs = Message.objects.filter(idempotency_key__in=part, sent_at__isnull=False)
        for m in qs.values("id", "profile_id", "sent_at", "idempotency_key", *MESSAGE_FIELDS):
            c = keyed[m["idempotency_key"]]
            if m["sent_at"] <= c.converted_at:
                touches.setdefault((c.source, c.source_id), []).append(m)
    zones.load(c.profile_id for c in convs)
    for c in convs:
        hour, local = hour_of(c.converted_at), zones.local_hour(c.converted_at, c.profile_id)
        ms = sorted(touches.get((c.source, c.source_id), []), key=lambda m: (m["sent_at"], m["id"]))
        if not ms:
            won = 0 if c.holdout else 1
            revenue = Decimal(0) if c.holdout else c.revenue
            acc.add(
                (c.campaign_kind, c.campaign_id, "", "", "", 0, hour, local),
                {
                    "conv_last": won, "conv_first": won, "conv_linear": Decimal(won),
                    "revenue_last": revenue, "revenue_first": revenue, "revenue_linear": revenue,
                    "holdout_conversions": int(c.holdout), "holdout_revenue": c.revenue if c.holdout else Decimal(0),
                },
            )  # fmt: skip
            continue
        n = len(ms)
        one, part_revenue = _share(Decimal(1), n), _share(c.revenue, n)
        for i, m in enumerate(ms):
            last, first = i == n - 1, i == 0
            key = (
                m["campaign_kind"], m["campaign_id"], m["stage_key"], m["variant"], m["channel"],
                m["template_id"] or 0, hour, local,
            )  # fmt: skip
            acc.add(
                key,
                {
                    "conv_last": int(last),
                    "conv_first": int(first),
                    # Shares rounded to 6 places, the last touch taking the remainder: they add up.
                    "conv_linear": 1 - (n - 1) * one if last else one,
                    "revenue_last": c.revenue if last else Decimal(0),
                    "revenue_first": c.revenue if first else Decimal(0),
                    "revenue_linear": c.revenue - (n - 1) * part_revenue if last else part_revenue,
                },
            )


# --- writes (fold._rollup_upsert, _cost_state_refresh, _firsts_refresh, _conversions_fold) -------


def rollups_add(acc: Deltas) -> int:
    """Add the deltas to the rollup rows (created when missing). Returns rows written."""
    from journeys.reports.models import HourlyRollup

    delta = dict(acc.nonzero())
    if not delta:
        return 0
    dims = (
        "campaign_kind",
        "campaign_id",
        "stage_key",
        "variant",
        "channel",
        "template_id",
        "hour",
        "local_hour",
    )
    existing: dict[Key, HourlyRollup] = {}
    for kind, cid in {(k[0], k[1]) for k in delta}:
        hours = sorted({k[6] for k in delta if k[0] == kind and k[1] == cid})
        qs = HourlyRollup.objects.filter(
            campaign_kind=kind, campaign_id=cid, hour__gte=hours[0], hour__lte=hours[-1]
        )
        for row in qs:
            existing[tuple(getattr(row, d) for d in dims)] = row  # type: ignore[assignment]
    update, create = [], []
    for key, figures in delta.items():
        row = existing.get(key)
        if row is None:
            create.append(HourlyRollup(**dict(zip(dims, key, strict=True)), **figures))
            continue
        for metric, value in figures.items():
            setattr(row, metric, getattr(row, metric) + value)
        update.append(row)
    HourlyRollup.objects.bulk_create(create, batch_size=CHUNK)
    HourlyRollup.objects.bulk_update(update, METRICS, batch_size=CHUNK)
    return len(create) + len(update)


def cost_state_refresh(w: Window, campaign: Campaign, zones: Zones) -> None:
    touched = costs_touched(w, campaign)
    for part in chunks(touched):
        MessageCost.objects.filter(message_id__in=part).delete()
    rows = []
    for mid, (amount, key) in costs_now(touched, campaign, zones).items():
        rows.append(
            MessageCost(
                message_id=mid, amount=amount, campaign_kind=key[0], campaign_id=key[1], stage_key=key[2],
                variant=key[3], channel=key[4], template_id=key[5], hour=key[6], local_hour=key[7],
            )
        )  # fmt: skip
    MessageCost.objects.bulk_create(rows, batch_size=CHUNK)


def firsts_refresh(w: Window, campaign: Campaign) -> None:
    qs = MessageEvent.objects.filter(w.b_q("event"), campaign_q(campaign, "message__"), kind__in=OPEN_KINDS)
    firsts: dict[int, list[int | None]] = {}
    for e in _in_b(w, "event", qs.values("id", "message_id", "kind")):
        pair = firsts.setdefault(e["message_id"], [None, None])
        pair[0] = e["id"] if pair[0] is None else min(pair[0], e["id"])
        if e["kind"] == "clicked":
            pair[1] = e["id"] if pair[1] is None else min(pair[1], e["id"])
    for part in chunks(sorted(firsts)):
        current = {f.message_id: f for f in MessageFirst.objects.filter(message_id__in=part)}
        for mid in part:
            new_open, new_click = firsts[mid]
            row = current.get(mid)
            if row is None:
                MessageFirst.objects.create(message_id=mid, first_open_id=new_open, first_click_id=new_click)
                continue
            row.first_open_id = _least(row.first_open_id, new_open)
            row.first_click_id = _least(row.first_click_id, new_click)
            row.save(update_fields=["first_open_id", "first_click_id"])


def _least(a: int | None, b: int | None) -> int | None:
    """PostgreSQL's LEAST: NULLs are ignored."""
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def conversions_fold(w: Window, campaign: Campaign, zones: Zones) -> int:
    convs = conversion_candidates(w, campaign)
    ConversionFact.objects.bulk_create(
        [
            ConversionFact(
                source=c.source, source_id=c.source_id, campaign_kind=c.campaign_kind, campaign_id=c.campaign_id,
                converted_at=c.converted_at, revenue=c.revenue, holdout=c.holdout,
            )
            for c in convs
        ],
        batch_size=CHUNK,
    )  # fmt: skip
    acc = Deltas()
    conversions_add(acc, convs, zones)
    return rollups_add(acc)
