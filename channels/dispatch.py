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
from channels.bulk import rows_update
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


@dataclass
class _Plan:
    adapter: Adapter
    groups: list[list[Outgoing]]
    attempt_ids: dict[int, int]


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
        rows = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status__in=[MessageStatus.PENDING, MessageStatus.DEFERRED], due_at__lte=now)
            .order_by("due_at", "id")[:size]
        )
        if not rows:
            return None
        stats.claimed += len(rows)
        profiles = Profile.objects.in_bulk({m.profile_id for m in rows})
        templates = {
            t.pk: t
            for t in Template.objects.filter(
                pk__in={m.template_id for m in rows if m.template_id}
            ).prefetch_related("variants")
        }
        configs = {channel: channel_config(channel) for channel in {m.channel for m in rows}}
        adapters = {channel: adapter_for(channel) for channel in configs}
        quiet = {c: _quiet_hours(c, cfg[1]) if cfg else None for c, cfg in configs.items()}

        skips: list[tuple[Message, str, str]] = []
        defers: list[tuple[Message, datetime, str]] = []
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
        for m in configured:
            decision = decisions[m.pk]
            if decision.action == "skip":
                skips.append((m, decision.reason, decision.detail))
                continue
            if decision.action == "defer":
                defers.append((m, decision.until, decision.detail))  # type: ignore[arg-type]
                continue
            template = templates[m.template_id]
            profile = profiles[m.profile_id]
            try:
                variant = variant_for(template, profile.locale, list(template.variants.all()))
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

        postponed: list[Message] = []
        plans: list[_Plan] = []
        sending: list[Message] = []
        attempts: list[MessageAttempt] = []
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
                m = by_id[o.message_id]
                m.due_at = now + timedelta(seconds=wait * random.uniform(1.0, 1.2))
                postponed.append(m)
            stats.rate_limited += len(outgoing) - granted
            outgoing = outgoing[:granted]
            if not outgoing:
                continue
            groups = list(adapter.requests(outgoing))
            for group in groups:
                key = uuid.uuid4().hex
                for o in group:
                    o.request_key = key
            for o in outgoing:
                m = by_id[o.message_id]
                m.status = MessageStatus.SENDING
                m.lease_owner = worker[:100]
                m.lease_until = lease_until
                m.attempt_count += 1
                m.dispatched_at = now
                m.provider = adapter.provider
                sending.append(m)
                attempts.append(
                    MessageAttempt(
                        message_id=m.pk,
                        number=m.attempt_count,
                        provider=adapter.provider,
                        started_at=now,
                        request_id=o.request_key,
                        batch_size=len(outgoing),
                    )
                )
            plans.append(_Plan(adapter=adapter, groups=groups, attempt_ids={}))

        events: list[MessageEvent] = []
        announcements = []
        for m, reason, detail in skips:
            m.status, m.skip_reason, m.error = MessageStatus.SKIPPED, reason, detail[:2000]
            events.append(
                MessageEvent(
                    message_id=m.pk, kind="skipped", at=now, data={"reason": reason, "detail": detail}
                )
            )
            announcements.append((m.pk, m.status, "skipped"))
        for m, until, detail in defers:
            m.status, m.due_at = MessageStatus.DEFERRED, until
            events.append(
                MessageEvent(
                    message_id=m.pk,
                    kind="deferred",
                    at=now,
                    data={"reason": "quiet_hours", "detail": detail, "until": until.isoformat()},
                )
            )
            announcements.append((m.pk, m.status, "deferred"))
        rows_update(
            [m for m, _, _ in skips] + [m for m, _, _ in defers] + postponed + sending,
            [
                "status",
                "skip_reason",
                "error",
                "due_at",
                "lease_owner",
                "lease_until",
                "attempt_count",
                "dispatched_at",
                "provider",
                "address",
                "subject",
            ],
        )
        created = MessageAttempt.objects.bulk_create(attempts, batch_size=1000)
        attempt_ids = {a.message_id: a.pk for a in created}
        for plan in plans:
            plan.attempt_ids = {o.message_id: attempt_ids[o.message_id] for g in plan.groups for o in g}
        MessageEvent.objects.bulk_create(events, batch_size=1000)
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
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update()
            .filter(pk__in=list(by_message), status=MessageStatus.SENDING, lease_owner=worker[:100])
            .order_by("pk")
        )
        if len(rows) < len(by_message):
            # Our lease ran out and the sweep resolved them; it recorded what happened.
            logger.warning("channels: %d results arrived after the lease ended", len(by_message) - len(rows))
        attempts = MessageAttempt.objects.in_bulk([plan.attempt_ids[m.pk] for m in rows])
        events: list[MessageEvent] = []
        followups: list[Result] = []
        announcements = []
        retired: list[Message] = []
        for m in rows:
            r = by_message[m.pk]
            attempt = attempts[plan.attempt_ids[m.pk]]
            attempt.finished_at = now
            attempt.status_code = r.status_code
            attempt.duration_ms = r.duration_ms
            attempt.error = r.error
            attempt.retryable = r.retryable and not r.ok
            attempt.batch_size = r.batch_size
            attempt.request_id = r.request_id or attempt.request_id
            m.lease_owner, m.lease_until = "", None
            if r.ok:
                m.status, m.sent_at, m.error = MessageStatus.SENT, now, ""
                m.provider_message_id = r.provider_message_id[:255]
                if r.cost is not None:
                    m.cost, m.cost_currency = r.cost, r.cost_currency[:3]
                events.append(
                    MessageEvent(message_id=m.pk, kind="sent", at=now, data={"provider": m.provider})
                )
                announcements.append((m.pk, m.status, "sent"))
                stats.sent += 1
                for e in r.events:
                    followups.append(
                        Result(
                            m.pk,
                            e.kind,
                            now + timedelta(seconds=e.seconds_later),
                            e.data,
                            f"{m.provider}:{m.pk}:{e.kind}",
                        )
                    )
            elif r.retryable and m.attempt_count < settings.CHANNELS_MAX_ATTEMPTS:
                delay = retry_delay(attempt=m.attempt_count, retry_after=r.retry_after)
                m.status, m.due_at, m.error = MessageStatus.PENDING, now + timedelta(seconds=delay), r.error
                events.append(
                    MessageEvent(
                        message_id=m.pk,
                        kind="retry_scheduled",
                        at=now,
                        data={"error": r.error, "status_code": r.status_code, "retry_in": round(delay, 1)},
                    )
                )
                announcements.append((m.pk, m.status, "retry_scheduled"))
                stats.retrying += 1
            else:
                m.status = MessageStatus.FAILED
                m.skip_reason = Reason.RETRIES_EXHAUSTED if r.retryable else Reason.PROVIDER_REJECTED
                m.error = r.error
                events.append(
                    MessageEvent(
                        message_id=m.pk,
                        kind="failed",
                        at=now,
                        data={"error": r.error, "status_code": r.status_code, "reason": m.skip_reason},
                    )
                )
                announcements.append((m.pk, m.status, "failed"))
                stats.failed += 1
                if r.invalid_address:
                    retired.append(m)
        rows_update(
            rows,
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
        )
        rows_update(
            list(attempts.values()),
            ["finished_at", "status_code", "duration_ms", "error", "retryable", "batch_size", "request_id"],
        )
        MessageEvent.objects.bulk_create(events, batch_size=1000)
        for m in retired:
            # The provider says this token/number is gone for good: stop using it.
            ContactPoint.objects.filter(profile_id=m.profile_id, channel=m.channel, address=m.address).update(
                active=False
            )
        statuses_announce(announcements)
        if settings.CHANNELS_TRACK_SENT_EVENTS:
            from channels.results import profile_events_ingest

            sent = [m for m in rows if m.status == MessageStatus.SENT]
            profile_events_ingest([(m, Result(m.pk, "sent", now)) for m in sent])
        if followups:
            results_record(followups)


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
