"""Dispatch: claim due messages, decide, render, send through the channel's adapter, record.

Each pass is three short steps, so no database transaction is open during a provider call:

1. **Claim** (one transaction): lock up to N due rows with FOR UPDATE SKIP LOCKED (other workers
   take other rows), decide each one (policy), render it, take rate-limit tokens, and mark the ones
   to send `sending` with a lease (lease_owner, lease_until) and an *open* MessageAttempt row. Skips
   and deferrals are recorded here with their reasons.
2. **Send**: the adapter posts the planned requests.
3. **Record** (one transaction): for rows still leased by this worker, close the attempt (status
   code, duration, error), and mark the message sent, scheduled for a retry, or failed.

Delivery guarantee. A message leaves `sending` only through step 3 or the lease sweep. If a worker
dies (SIGKILL) after step 1, its rows keep their lease until it runs out; then `leases_sweep`
looks at each: with no open attempt it is simply due again. With an open attempt the call may or
may not have reached the provider — *in doubt* — and we ask the provider (`Adapter.lookup`, e.g.
SendGrid's Email Activity API by the request's `voyage_batch` custom arg): reached → marked sent,
never resent; not reached → due again. Providers that cannot be asked follow
CHANNELS_IN_DOUBT_POLICY: "fail" (default: at most once — marked failed, reason in_doubt) or
"resend" (at least once). Retries after a timeout are at least once (the provider may have taken
the message and not answered); every other path sends a message at most once.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels.adapters import adapter_for, channel_config
from channels.adapters.base import Adapter, Outgoing, SendResult
from channels.bulk import records_insert, records_update
from channels.models import (
    Message,
    MessageAttempt,
    MessageEvent,
    MessageStatus,
    Reason,
    Template,
)
from channels.policy import decisions_make
from channels.ratelimit import tokens_take
from channels.rendering import RenderError, render_variant, variant_for
from channels.results import Result, results_record
from channels.services import statuses_announce
from tracking.models import ContactPoint, Profile

logger = logging.getLogger(__name__)


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retrying: int = 0
    failed: int = 0
    requests: int = 0
    rate_limited: int = 0

    def add(self, other: DispatchStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class _Row:
    """The columns of a claimed message that dispatch needs: plain values, no model instance (cheap)."""

    pk: int
    profile_id: int
    channel: str
    template_id: int | None
    topic: str
    data: dict[str, Any]
    campaign_kind: str
    campaign_id: int | None
    attempt_count: int
    idempotency_key: str
    address: str = ""
    subject: str = ""
    attempt_id: int = 0


ROW_FIELDS = (
    "id",
    "profile_id",
    "channel",
    "template_id",
    "topic",
    "data",
    "campaign_kind",
    "campaign_id",
    "attempt_count",
    "idempotency_key",
    # Set before dispatch only for a designer's test send to their own inbox (channels.admin).
    "address",
)


@dataclass(slots=True)
class _Profile:
    pk: int
    traits: dict[str, Any]
    locale: str
    timezone: str
    country: str
    tags: list[str]


@dataclass
class _Plan:
    adapter: Adapter
    groups: list[list[Outgoing]]
    rows: dict[int, _Row]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def messages_dispatch(
    *, worker: str | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> DispatchStats:
    """Send everything that is due, batch after batch, until nothing is due (or max_batches ran)."""
    worker = worker or worker_name()
    size = batch_size or settings.CHANNELS_DISPATCH_BATCH_SIZE
    total = DispatchStats()
    leases_sweep()
    batches = 0
    while max_batches is None or batches < max_batches:
        stats = DispatchStats()
        plans = _claim(worker=worker, size=size, stats=stats)
        if plans is None:
            break
        batches += 1
        for plan in plans:
            results = plan.adapter.send_groups(plan.groups)
            stats.requests += len(plan.groups)
            _record(worker=worker, plan=plan, results=results, stats=stats)
        total.add(stats)
    return total


def _quiet_hours(channel: str, options: dict[str, Any]) -> tuple[str, str] | None:
    window = options.get("quiet_hours", settings.CHANNELS_QUIET_HOURS.get(channel))
    return tuple(window) if window else None  # type: ignore[return-value]


def _claim(*, worker: str, size: int, stats: DispatchStats) -> list[_Plan] | None:
    now = timezone.now()
    with transaction.atomic():
        rows = [
            _Row(*values)
            for values in Message.objects.select_for_update(skip_locked=True)
            .filter(status__in=[MessageStatus.PENDING, MessageStatus.DEFERRED], due_at__lte=now)
            .order_by("due_at", "id")
            .values_list(*ROW_FIELDS)[:size]
        ]
        if not rows:
            return None
        stats.claimed += len(rows)
        profiles = {
            values[0]: _Profile(*values)
            for values in Profile.objects.filter(pk__in={m.profile_id for m in rows}).values_list(
                "id", "traits", "locale", "timezone", "country", "tags"
            )
        }
        templates = {
            t.pk: t
            for t in Template.objects.filter(
                pk__in={m.template_id for m in rows if m.template_id}
            ).prefetch_related("variants")
        }
        configs = {channel: channel_config(channel) for channel in {m.channel for m in rows}}
        adapters = {channel: adapter_for(channel) for channel in configs}
        quiet = {c: _quiet_hours(c, cfg[1]) if cfg else None for c, cfg in configs.items()}

        skips: list[tuple[_Row, str, str]] = []
        defers: list[tuple[_Row, datetime, str]] = []
        configured = []
        for m in rows:
            if m.template_id is None or m.template_id not in templates:
                skips.append((m, Reason.TEMPLATE_MISSING, "the message has no template"))
            elif adapters.get(m.channel) is None:
                skips.append((m, Reason.CHANNEL_DISABLED, f"no enabled provider configured for {m.channel}"))
            else:
                configured.append(m)
        decisions = decisions_make(configured, profiles=profiles, now=now, quiet_hours=quiet)

        to_send: dict[str, list[Outgoing]] = defaultdict(list)
        by_id = {m.pk: m for m in rows}
        variants = {pk: list(t.variants.all()) for pk, t in templates.items()}
        for m in configured:
            decision = decisions[m.pk]
            if decision.action == "skip":
                skips.append((m, decision.reason, decision.detail))
                continue
            if decision.action == "defer":
                defers.append((m, decision.until, decision.detail))  # type: ignore[arg-type]
                continue
            template = templates[m.template_id]  # type: ignore[index]
            profile = profiles[m.profile_id]
            try:
                variant = variant_for(template, profile.locale, variants[template.pk])
                rendered = render_variant(
                    variant=variant, channel=m.channel, profile=profile, data=m.data, message_id=m.pk
                )
            except RenderError as exc:
                skips.append((m, Reason.RENDER_ERROR, f"{template.slug}: {exc}"))
                continue
            m.address = decision.address
            m.subject = (rendered.content.get("subject") or rendered.content.get("title") or "")[:500]
            to_send[m.channel].append(
                Outgoing(
                    message_id=m.pk,
                    channel=m.channel,
                    to=decision.address,
                    rendered=rendered,
                    idempotency_key=m.idempotency_key,
                    attempt=m.attempt_count + 1,
                )
            )

        postponed: list[dict[str, Any]] = []
        plans: list[_Plan] = []
        sending: list[dict[str, Any]] = []
        attempts: list[dict[str, Any]] = []
        lease_until = now + timedelta(seconds=settings.CHANNELS_LEASE_SECONDS)
        for channel, outgoing in to_send.items():
            adapter = adapters[channel]
            options = configs[channel][1]  # type: ignore[index]
            granted, wait = tokens_take(
                key=f"{adapter.provider}:{channel}",
                wanted=len(outgoing),
                rate=options.get("rate_per_second"),
                burst=options.get("burst"),
            )
            for o in outgoing[granted:]:
                due = now + timedelta(seconds=wait * random.uniform(1.0, 1.2))
                postponed.append({"pk": o.message_id, "due_at": due})
            stats.rate_limited += len(outgoing) - granted
            outgoing = outgoing[:granted]
            if not outgoing:
                continue
            groups = list(adapter.requests(outgoing))
            for group in groups:
                key = uuid.uuid4().hex
                for o in group:
                    o.request_key = key
            plan_rows = {}
            for o in outgoing:
                m = by_id[o.message_id]
                m.attempt_count += 1
                plan_rows[m.pk] = m
                sending.append(
                    {"pk": m.pk, "attempt_count": m.attempt_count, "address": m.address, "subject": m.subject}
                )
                attempts.append(
                    {
                        "message_id": m.pk,
                        "number": m.attempt_count,
                        "provider": adapter.provider,
                        "started_at": now,
                        "request_id": o.request_key,
                        "batch_size": len(outgoing),
                    }
                )
            plans.append(_Plan(adapter=adapter, groups=groups, rows=plan_rows))

        events: list[dict[str, Any]] = []
        announcements = []
        closed: list[dict[str, Any]] = []
        for m, reason, detail in skips:
            closed.append(
                {"pk": m.pk, "status": MessageStatus.SKIPPED, "skip_reason": reason, "error": detail[:2000]}
            )
            events.append(
                {
                    "message_id": m.pk,
                    "kind": "skipped",
                    "at": now,
                    "data": {"reason": reason, "detail": detail},
                }
            )
            announcements.append((m.pk, MessageStatus.SKIPPED, "skipped"))
        for m, until, detail in defers:
            postponed.append({"pk": m.pk, "due_at": until, "status": MessageStatus.DEFERRED})
            events.append(
                {
                    "message_id": m.pk,
                    "kind": "deferred",
                    "at": now,
                    "data": {"reason": "quiet_hours", "detail": detail, "until": until.isoformat()},
                }
            )
            announcements.append((m.pk, MessageStatus.DEFERRED, "deferred"))
        records_update(Message, closed, ["status", "skip_reason", "error"])
        records_update(Message, postponed, ["due_at", "status"], keep_when_null=["status"])
        records_update(
            Message,
            [
                {
                    **r,
                    "status": MessageStatus.SENDING,
                    "lease_owner": worker[:100],
                    "lease_until": lease_until,
                    "dispatched_at": now,
                    "provider": attempt["provider"],
                }
                for r, attempt in zip(sending, attempts, strict=True)
            ],
            [
                "status",
                "lease_owner",
                "lease_until",
                "attempt_count",
                "dispatched_at",
                "provider",
                "address",
                "subject",
            ],
        )
        for attempt_id, message_id in records_insert(
            MessageAttempt, attempts, returning=("id", "message_id")
        ):
            by_id[message_id].attempt_id = attempt_id
        records_insert(MessageEvent, events)
        statuses_announce(announcements)
        stats.skipped += len(skips)
        stats.deferred += len(defers)
    return plans


def retry_delay(*, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter; a provider's Retry-After is a floor we never undercut."""
    backoff = settings.CHANNELS_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    backoff = min(settings.CHANNELS_RETRY_MAX_SECONDS, backoff) * random.uniform(0.5, 1.5)
    if retry_after is not None:
        return max(retry_after, min(backoff, retry_after * 1.5 + 1))
    return backoff


def _record(*, worker: str, plan: _Plan, results: list[SendResult], stats: DispatchStats) -> None:
    now = timezone.now()
    by_message = {r.message_id: r for r in results}
    updates: list[dict[str, Any]] = []
    finished: dict[int, dict[str, Any]] = {}
    outcome: dict[int, tuple[str, dict[str, Any]]] = {}
    followups: dict[int, list[Result]] = {}
    retired: set[int] = set()
    for message_id, r in by_message.items():
        m = plan.rows[message_id]
        finished[message_id] = {
            "pk": m.attempt_id,
            "finished_at": now,
            "status_code": r.status_code,
            "duration_ms": r.duration_ms,
            "error": r.error,
            "retryable": r.retryable and not r.ok,
            "batch_size": r.batch_size,
            "request_id": r.request_id or None,
        }
        if r.ok:
            update = {
                "status": MessageStatus.SENT,
                "sent_at": now,
                "error": "",
                "provider_message_id": r.provider_message_id[:255],
            }
            if r.cost is not None:
                update["cost"], update["cost_currency"] = r.cost, r.cost_currency[:3]
            outcome[message_id] = ("sent", {"provider": plan.adapter.provider})
            followups[message_id] = [
                Result(
                    m.pk,
                    e.kind,
                    now + timedelta(seconds=e.seconds_later),
                    e.data,
                    f"{plan.adapter.provider}:{m.pk}:{e.kind}",
                )
                for e in r.events
            ]
        elif r.retryable and m.attempt_count < settings.CHANNELS_MAX_ATTEMPTS:
            delay = retry_delay(attempt=m.attempt_count, retry_after=r.retry_after)
            update = {
                "status": MessageStatus.PENDING,
                "due_at": now + timedelta(seconds=delay),
                "error": r.error,
            }
            outcome[message_id] = (
                "retry_scheduled",
                {"error": r.error, "status_code": r.status_code, "retry_in": round(delay, 1)},
            )
        else:
            reason = Reason.RETRIES_EXHAUSTED if r.retryable else Reason.PROVIDER_REJECTED
            update = {"status": MessageStatus.FAILED, "skip_reason": reason, "error": r.error}
            outcome[message_id] = (
                "failed",
                {"error": r.error, "status_code": r.status_code, "reason": reason},
            )
            if r.invalid_address:
                retired.add(message_id)
        updates.append({"pk": message_id, "lease_owner": "", "lease_until": None, **update})

    with transaction.atomic():
        # Lock, in id order as every other writer does, the rows still leased to us.
        ours = set(
            Message.objects.select_for_update()
            .filter(pk__in=list(by_message), status=MessageStatus.SENDING, lease_owner=worker[:100])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if len(ours) < len(by_message):
            # Our lease ran out and the sweep resolved them; it recorded what happened.
            logger.warning("channels: %d results arrived after the lease ended", len(by_message) - len(ours))
        records_update(
            Message,
            [u for u in updates if u["pk"] in ours],
            [
                "status",
                "sent_at",
                "error",
                "provider_message_id",
                "cost",
                "cost_currency",
                "due_at",
                "skip_reason",
                "lease_owner",
                "lease_until",
            ],
            keep_when_null=[
                "sent_at",
                "provider_message_id",
                "cost",
                "cost_currency",
                "due_at",
                "skip_reason",
            ],
        )
        records_update(
            MessageAttempt,
            [finished[pk] for pk in ours],
            ["finished_at", "status_code", "duration_ms", "error", "retryable", "batch_size", "request_id"],
            keep_when_null=["request_id"],
        )
        ordered = sorted(ours)
        records_insert(
            MessageEvent,
            [{"message_id": pk, "kind": outcome[pk][0], "at": now, "data": outcome[pk][1]} for pk in ordered],
        )
        statuses = {u["pk"]: u["status"] for u in updates}
        announcements = [(pk, statuses[pk], outcome[pk][0]) for pk in ordered]
        kinds = [outcome[pk][0] for pk in ordered]
        stats.sent += kinds.count("sent")
        stats.retrying += kinds.count("retry_scheduled")
        stats.failed += kinds.count("failed")
        for pk in retired & ours:
            # The provider says this token/number is gone for good: stop using it.
            m = plan.rows[pk]
            ContactPoint.objects.filter(profile_id=m.profile_id, channel=m.channel, address=m.address).update(
                active=False
            )
        statuses_announce(announcements)
        sent = [pk for pk in ordered if outcome[pk][0] == "sent"]
        if settings.CHANNELS_TRACK_SENT_EVENTS and sent:
            from channels.results import profile_events_ingest

            messages = Message.objects.filter(pk__in=sent).select_related("template")
            profile_events_ingest([(message, Result(message.pk, "sent", now)) for message in messages])
        results = [r for pk in sent for r in followups[pk]]
        if results:
            results_record(results)


def leases_sweep(*, limit: int = 1000) -> int:
    """Resolve messages whose worker's lease ran out (a crash). Returns how many were resolved."""
    now = timezone.now()
    with transaction.atomic():
        stale = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.SENDING, lease_until__lt=now)
            .order_by("lease_until")[:limit]
        )
        if not stale:
            return 0
        open_attempts = {
            a.message_id: a
            for a in MessageAttempt.objects.filter(message__in=stale, finished_at__isnull=True)
        }
        by_channel: dict[str, list[Message]] = defaultdict(list)
        for m in stale:
            by_channel[m.channel].append(m)
        events: list[MessageEvent] = []
        announcements = []
        for channel, messages in by_channel.items():
            doubtful = [m for m in messages if m.pk in open_attempts]
            adapter = adapter_for(channel)
            found: dict[str, str] | None = None
            if doubtful and adapter is not None:
                keys = sorted({open_attempts[m.pk].request_id for m in doubtful})
                try:
                    found = adapter.lookup(keys)
                except Exception as exc:  # cannot tell yet: leave them leased, the next sweep asks again
                    logger.warning("channels: in-doubt lookup failed for %s: %s", channel, exc)
                    for m in doubtful:
                        m.lease_until = now + timedelta(seconds=settings.CHANNELS_LEASE_SECONDS)
                    Message.objects.bulk_update(doubtful, ["lease_until"])
                    messages = [m for m in messages if m.pk not in open_attempts]
            for m in messages:
                attempt = open_attempts.get(m.pk)
                m.lease_owner, m.lease_until = "", None
                if attempt is None:
                    m.status, m.due_at = MessageStatus.PENDING, now
                    continue
                attempt.finished_at = now
                if found is not None and attempt.request_id in found:
                    attempt.error = "worker died during the call; the provider confirms it received it"
                    m.status, m.sent_at = MessageStatus.SENT, now
                    m.provider_message_id = found[attempt.request_id][:255]
                    events.append(
                        MessageEvent(message_id=m.pk, kind="sent", at=now, data={"recovered": True})
                    )
                    announcements.append((m.pk, m.status, "sent"))
                elif found is not None or settings.CHANNELS_IN_DOUBT_POLICY == "resend":
                    attempt.error = "worker died during the call; " + (
                        "the provider has no record of it: sending again"
                        if found is not None
                        else "outcome unknown: sending again (CHANNELS_IN_DOUBT_POLICY=resend)"
                    )
                    attempt.retryable = True
                    m.status, m.due_at = MessageStatus.PENDING, now
                else:
                    attempt.error = (
                        "worker died during the call; outcome unknown and not resent (at most once)"
                    )
                    m.status, m.skip_reason, m.error = MessageStatus.FAILED, Reason.IN_DOUBT, attempt.error
                    events.append(
                        MessageEvent(message_id=m.pk, kind="failed", at=now, data={"reason": Reason.IN_DOUBT})
                    )
                    announcements.append((m.pk, m.status, "failed"))
                attempt.save(update_fields=["finished_at", "error", "retryable"])
            Message.objects.bulk_update(
                messages,
                [
                    "status",
                    "due_at",
                    "lease_owner",
                    "lease_until",
                    "sent_at",
                    "provider_message_id",
                    "skip_reason",
                    "error",
                ],
            )
        MessageEvent.objects.bulk_create(events)
        statuses_announce(announcements)
        return len(stale)


def dispatch_until_idle(*, timeout: float = 30.0) -> DispatchStats:
    """Dispatch repeatedly until nothing is due (tests, the demo loader, the management command)."""
    total = DispatchStats()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = messages_dispatch()
        total.add(stats)
        if stats.claimed == 0:
            break
    return total
