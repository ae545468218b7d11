"""Dispatch: claim due messages, decide, render, send through the channel's adapter, record.

A pass is a chain of short, named steps, so no database transaction is open during a provider call
and every message ends the pass with exactly one `Outcome` (its new status, its timeline event):

1. **Claim** (`_batch_claim`, one transaction): lock up to N due rows with FOR UPDATE SKIP LOCKED
   (other workers take other rows), load what deciding needs (`_context_load`), decide each one
   (`_decide`: skip, defer, or render and send), take rate-limit tokens (`_throttle`), plan the
   provider requests, and mark the ones to send `sending` with a lease (lease_owner, lease_until).
   Skips, deferrals and postponements are written here with their reasons.
2. **Per request** (`_plan_send`): open the request's MessageAttempts (one short transaction, which
   also records the previous request's results), post it, and record its results (`_results_record`)
   in the next step. An attempt is open only while its request is in flight.
3. An adapter error that is not a ProviderError (a bug, an unparsable answer) fails that request's
   messages with the error recorded (reason adapter_error); it never leaves them `sending`.
4. A message that cannot be decided or planned on its own, or whose result cannot be recorded on its
   own, is set aside (core.setaside) and the rest of the batch goes on; the lease sweep leaves a
   set-aside `sending` message alone until an operator retries it (then it is in doubt).

Delivery guarantee. A message leaves `sending` only through a recorded result or the lease sweep. If
a worker dies (SIGKILL), its rows keep their lease until it runs out; then `leases_sweep` looks at
each: with no open attempt it was never handed over and is simply due again. With an open attempt
the call was in flight — *in doubt* — and we ask the provider (`Adapter.lookup`, e.g. SendGrid's
Email Activity API by the request's `voyage_batch` custom arg): reached → marked sent, never resent;
not reached → due again. Providers that cannot be asked follow CHANNELS_IN_DOUBT_POLICY: "fail"
(default: at most once — marked failed, reason in_doubt) or "resend" (at least once). Only the
requests in flight at the kill are in doubt. Retries after a timeout are at least once (the provider
may have taken the message and not answered); every other path sends a message at most once.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from channels.adapters import adapter_for, channel_config
from channels.adapters.base import Adapter, Outgoing, SendResult
from channels.models import (
    Message,
    MessageAttempt,
    MessageEvent,
    MessageStatus,
    Reason,
    Template,
)
from channels.policy import decisions_make
from channels.rendering import RenderError, render_variant, variant_for
from channels.results import Result, results_record
from channels.services import statuses_announce
from channels.utm import utm_tag, utm_values
from core.bulk import AnyOf, records_insert, records_update
from core.claim import rows_lock
from core.ratelimit import rate_take
from core.setaside import rows_handle
from tracking.models import ContactPoint, Profile

logger = logging.getLogger(__name__)
SET_ASIDE_QUEUE = "outbox"  # registered in channels.health


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
    variant: str = ""  # the A/B variant, named in the push link's utm_content (channels.utm)
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
    "variant",
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
    """One channel's share of a batch: the adapter, the provider requests, the rows, their lease."""

    adapter: Adapter
    groups: list[list[Outgoing]]
    rows: dict[int, _Row]
    lease_until: datetime


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def messages_dispatch(
    *, worker: str | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> DispatchStats:
    """Send everything that is due, batch after batch, until nothing is due (or max_batches ran)."""
    worker = (worker or worker_name())[:100]
    size = batch_size or settings.CHANNELS_DISPATCH_BATCH_SIZE
    total = DispatchStats()
    leases_sweep()
    batches = 0
    while max_batches is None or batches < max_batches:
        stats = DispatchStats()
        plans = _batch_claim(worker=worker, size=size, stats=stats)
        if plans is None:
            break
        batches += 1
        for plan in plans:
            _plan_send(worker=worker, plan=plan, stats=stats)
        total.add(stats)
    return total


def _quiet_hours(channel: str, options: dict[str, Any]) -> tuple[str, str] | None:
    window = options.get("quiet_hours", settings.CHANNELS_QUIET_HOURS.get(channel))
    return tuple(window) if window else None  # type: ignore[return-value]


@dataclass(slots=True)
class Outcome:
    """What one pass made of one message: its new status, the timeline event (`kind` and `data`; no
    event when `kind` is empty) and the columns to write (None keeps the stored value)."""

    message_id: int
    status: str | None
    kind: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skip_reason: str | None = None
    due_at: datetime | None = None
    sent_at: datetime | None = None
    provider_message_id: str | None = None
    cost: str | None = None
    cost_currency: str | None = None


_OUTCOME_FIELDS = ["status", "error", "skip_reason", "due_at", "sent_at", "provider_message_id", "cost",
                   "cost_currency"]  # fmt: skip


def outcomes_write(outcomes: list[Outcome], *, now: datetime) -> None:
    """Write each message's outcome (releasing any lease), its timeline event, and announce it."""
    if not outcomes:
        return
    records_update(
        Message,
        [
            {
                "pk": o.message_id,
                "lease_owner": "",
                "lease_until": None,
                **{f: getattr(o, f) for f in _OUTCOME_FIELDS},
            }
            for o in outcomes
        ],
        [*_OUTCOME_FIELDS, "lease_owner", "lease_until"],
        keep_when_null=_OUTCOME_FIELDS,
    )
    told = [o for o in outcomes if o.kind]
    records_insert(
        MessageEvent, [{"message_id": o.message_id, "kind": o.kind, "at": now, "data": o.data} for o in told]
    )
    statuses_announce((o.message_id, o.status, o.kind) for o in told)


@dataclass
class _Context:
    """What deciding and rendering a batch needs, loaded once per batch."""

    profiles: dict[int, _Profile]
    templates: dict[int, Template]
    variants: dict[int, list[Any]]
    configs: dict[str, Any]
    adapters: dict[str, Adapter | None]
    quiet: dict[str, tuple[str, str] | None]


def _context_load(rows: list[_Row]) -> _Context:
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
    return _Context(
        profiles=profiles,
        templates=templates,
        variants={pk: list(t.variants.all()) for pk, t in templates.items()},
        configs=configs,
        adapters={channel: adapter_for(channel) for channel in configs},
        quiet={c: _quiet_hours(c, cfg[1]) if cfg else None for c, cfg in configs.items()},
    )


def _skipped(m: _Row, reason: str, detail: str) -> Outcome:
    return Outcome(
        m.pk, MessageStatus.SKIPPED, "skipped", {"reason": reason, "detail": detail}, error=detail[:2000],
        skip_reason=reason,
    )  # fmt: skip


def _decide(
    rows: list[_Row], *, ctx: _Context, now: datetime, outcomes: list[Outcome]
) -> dict[str, list[Outgoing]]:
    """Skip, defer, or render each message; returns what to send, by channel."""
    configured = []
    for m in rows:
        if m.template_id is None or m.template_id not in ctx.templates:
            outcomes.append(_skipped(m, Reason.TEMPLATE_MISSING, "the message has no template"))
        elif ctx.adapters.get(m.channel) is None:
            outcomes.append(
                _skipped(m, Reason.CHANNEL_DISABLED, f"no enabled provider configured for {m.channel}")
            )
        else:
            configured.append(m)
    decisions = decisions_make(configured, profiles=ctx.profiles, now=now, quiet_hours=ctx.quiet)
    to_send: dict[str, list[Outgoing]] = defaultdict(list)
    for m in configured:
        decision = decisions[m.pk]
        if decision.action == "skip":
            outcomes.append(_skipped(m, decision.reason, decision.detail))
            continue
        if decision.action == "defer":
            until: datetime = decision.until  # type: ignore[assignment]
            data = {"reason": "quiet_hours", "detail": decision.detail, "until": until.isoformat()}
            outcomes.append(Outcome(m.pk, MessageStatus.DEFERRED, "deferred", data, due_at=until))
            continue
        template = ctx.templates[m.template_id]  # type: ignore[index]
        profile = ctx.profiles[m.profile_id]
        try:
            variant = variant_for(template, profile.locale, ctx.variants[template.pk])
            rendered = render_variant(
                variant=variant, channel=m.channel, profile=profile, data=m.data, message_id=m.pk
            )
        except RenderError as exc:
            outcomes.append(_skipped(m, Reason.RENDER_ERROR, f"{template.slug}: {exc}"))
            continue
        if rendered.content.get("deep_link"):
            # A push has no click redirect: its link carries the campaign's UTM tags itself (channels.utm).
            rendered.content["deep_link"] = utm_tag(
                rendered.content["deep_link"], utm_values(message=m, template=template)
            )
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
    return to_send


def _throttle(
    channel: str, outgoing: list[Outgoing], *, ctx: _Context, now: datetime, outcomes: list[Outcome]
) -> list[Outgoing]:
    """Take the provider's rate-limit tokens; what did not get one is due again when it could.

    Fail closed: the provider's limit is a contract, and our Redis blinking must not break it."""
    adapter = ctx.adapters[channel]
    options = ctx.configs[channel][1]
    grant = rate_take(
        key=f"{adapter.provider}:{channel}",  # type: ignore[union-attr]
        wanted=len(outgoing),
        rate=options.get("rate_per_second"),
        burst=options.get("burst"),
        fail_open=False,
    )
    for o in outgoing[grant.granted :]:
        due = now + timedelta(seconds=grant.wait * random.uniform(1.0, 1.2))
        outcomes.append(Outcome(o.message_id, None, due_at=due))  # status and timeline unchanged
    return outgoing[: grant.granted]


def _batch_claim(*, worker: str, size: int, stats: DispatchStats) -> list[_Plan] | None:
    """Claim, decide and plan one batch in one transaction; None when nothing is due. A message
    that cannot be decided or planned on its own is set aside (core.setaside); the rest go on."""
    now = timezone.now()
    with transaction.atomic():
        rows = [
            _Row(*values)
            for values in rows_lock(
                queryset=Message.objects.filter(
                    status__in=[MessageStatus.PENDING, MessageStatus.DEFERRED],
                    due_at__lte=now,
                    set_aside_at__isnull=True,
                ),
                limit=size,
                order_by=("due_at", "id"),
                fields=ROW_FIELDS,
            )
        ]
        if not rows:
            return None
        stats.claimed += len(rows)
        lease_until = now + timedelta(seconds=settings.CHANNELS_LEASE_SECONDS)
        plans: list[_Plan] = []
        for part_plans, part_stats in rows_handle(
            queue=SET_ASIDE_QUEUE,
            items=rows,
            handle=lambda part: _batch_plan(part, worker=worker, now=now, lease_until=lease_until),
            ref=lambda m: ("channels.Message", m.pk),
        ):
            plans += part_plans
            stats.add(part_stats)
    return plans


def _batch_plan(
    rows: list[_Row], *, worker: str, now: datetime, lease_until: datetime
) -> tuple[list[_Plan], DispatchStats]:
    """Decide and plan claimed rows; write the skips and deferrals and lease the rows to send."""
    stats = DispatchStats()
    ctx = _context_load(rows)
    outcomes: list[Outcome] = []
    by_id = {m.pk: m for m in rows}
    plans: list[_Plan] = []
    for channel, outgoing in _decide(rows, ctx=ctx, now=now, outcomes=outcomes).items():
        before = len(outgoing)
        outgoing = _throttle(channel, outgoing, ctx=ctx, now=now, outcomes=outcomes)
        stats.rate_limited += before - len(outgoing)
        if outgoing:
            adapter: Adapter = ctx.adapters[channel]  # type: ignore[assignment]
            groups = list(adapter.requests(outgoing))
            for group in groups:
                key = uuid.uuid4().hex
                for o in group:
                    o.request_key = key
            rows_ = {o.message_id: by_id[o.message_id] for o in outgoing}
            plans.append(_Plan(adapter=adapter, groups=groups, rows=rows_, lease_until=lease_until))
    records_update(
        Message,
        [
            {
                "pk": m.pk,
                "status": MessageStatus.SENDING,
                "lease_owner": worker,
                "lease_until": lease_until,
                "dispatched_at": now,
                "provider": plan.adapter.provider,
                "address": m.address,
                "subject": m.subject,
            }
            for plan in plans
            for m in plan.rows.values()
        ],  # fmt: skip
        ["status", "lease_owner", "lease_until", "dispatched_at", "provider", "address", "subject"],
    )
    outcomes_write(outcomes, now=now)
    stats.skipped += sum(o.kind == "skipped" for o in outcomes)
    stats.deferred += sum(o.kind == "deferred" for o in outcomes)
    return plans, stats


def retry_delay(*, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter; a provider's Retry-After is a floor we never undercut."""
    backoff = settings.CHANNELS_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    backoff = min(settings.CHANNELS_RETRY_MAX_SECONDS, backoff) * random.uniform(0.5, 1.5)
    if retry_after is not None:
        return max(retry_after, min(backoff, retry_after * 1.5 + 1))
    return backoff


def _plan_send(*, worker: str, plan: _Plan, stats: DispatchStats) -> None:
    """Send a plan request by request; each step records the last request's results and opens the
    next one's attempts in one transaction, so an attempt is open only while its request is out."""
    done: tuple[list[Outgoing], list[SendResult]] | None = None
    for group in plan.groups:
        live = _step(worker=worker, plan=plan, done=done, opening=group, stats=stats)
        done = None
        group = [o for o in group if o.message_id in live]
        if group:
            done = (group, _request_send(plan.adapter, group))
            stats.requests += 1
    if done is not None:
        _step(worker=worker, plan=plan, done=done, opening=None, stats=stats)


def _request_send(adapter: Adapter, group: list[Outgoing]) -> list[SendResult]:
    """The adapter's results for one request, one per message. An exception that is not a
    ProviderError (the adapter turns those into results) is a failure of this request's messages."""
    try:
        results = adapter.send_groups([group])
    except Exception as exc:
        logger.exception("channels: %s adapter error", adapter.provider)
        error = f"adapter error: {type(exc).__name__}: {exc}"[:2000]
        results = []
    else:
        error = "adapter error: the adapter returned no result for this message"
    seen = {r.message_id for r in results}
    for o in group:
        if o.message_id not in seen:
            results.append(
                SendResult(
                    message_id=o.message_id, ok=False, error=error, batch_size=len(group),
                    request_id=o.request_key, adapter_error=True,
                )
            )  # fmt: skip
    return [r for r in results if r.message_id in {o.message_id for o in group}]


def _step(
    *,
    worker: str,
    plan: _Plan,
    done: tuple[list[Outgoing], list[SendResult]] | None,
    opening: list[Outgoing] | None,
    stats: DispatchStats,
) -> set[int]:
    """One transaction: record `done` (a request's results), then open the attempts of `opening` for
    the rows still leased to us. Returns the ids of the messages that may now be sent."""
    now = timezone.now()
    with transaction.atomic():
        if done is not None:
            # A result that cannot be recorded on its own (a provider answer PostgreSQL cannot store)
            # sets its message aside, still `sending` with its attempt open; the others are recorded.
            for part_stats in rows_handle(
                queue=SET_ASIDE_QUEUE,
                items=done[1],
                handle=lambda part: _results_recorded(worker=worker, plan=plan, results=part, now=now),
                ref=lambda r: ("channels.Message", r.message_id),
            ):
                stats.add(part_stats)
        if not opening:
            return set()
        if now > plan.lease_until - timedelta(seconds=settings.CHANNELS_LEASE_SECONDS / 2):
            _lease_renew(worker=worker, plan=plan, now=now)
        return _attempts_open(worker=worker, plan=plan, group=opening, now=now)


def _results_recorded(*, worker: str, plan: _Plan, results: list[SendResult], now: datetime) -> DispatchStats:
    stats = DispatchStats()
    _results_record(worker=worker, plan=plan, results=results, now=now, stats=stats)
    return stats


def _ours(worker: str, ids: list[int]) -> set[int]:
    """Lock, in id order as every other writer does, the rows among `ids` still leased to us (a
    lease that ran out was resolved by the sweep, which recorded what happened)."""
    return set(
        Message.objects.select_for_update()
        .filter(AnyOf(F("pk"), ids), status=MessageStatus.SENDING, lease_owner=worker)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _lease_renew(*, worker: str, plan: _Plan, now: datetime) -> None:
    """A long plan outlives half its lease: extend it for the rows not yet recorded."""
    plan.lease_until = now + timedelta(seconds=settings.CHANNELS_LEASE_SECONDS)
    Message.objects.filter(
        AnyOf(F("pk"), list(plan.rows)), status=MessageStatus.SENDING, lease_owner=worker
    ).update(lease_until=plan.lease_until)


def _attempts_open(*, worker: str, plan: _Plan, group: list[Outgoing], now: datetime) -> set[int]:
    ours = _ours(worker, [o.message_id for o in group])
    if len(ours) < len(group):
        logger.warning(
            "channels: %d messages left this worker's lease before sending", len(group) - len(ours)
        )
    attempts = []
    for o in group:
        if o.message_id in ours:
            m = plan.rows[o.message_id]
            m.attempt_count += 1
            o.attempt = m.attempt_count
            attempts.append(
                {"message_id": m.pk, "number": m.attempt_count, "provider": plan.adapter.provider,
                 "started_at": now, "request_id": o.request_key, "batch_size": len(ours)}
            )  # fmt: skip
    records_update(
        Message, [{"pk": a["message_id"], "attempt_count": a["number"]} for a in attempts], ["attempt_count"]
    )
    for attempt_id, message_id in records_insert(MessageAttempt, attempts, returning=("id", "message_id")):
        plan.rows[message_id].attempt_id = attempt_id
    return ours


def _result_outcome(m: _Row, r: SendResult, *, provider: str, now: datetime) -> Outcome:
    """Sent, a retry scheduled, or failed: the outcome of one message's request."""
    if r.ok:
        return Outcome(
            m.pk, MessageStatus.SENT, "sent", {"provider": provider}, error="", sent_at=now,
            provider_message_id=r.provider_message_id[:255], cost=r.cost,
            cost_currency=r.cost_currency[:3] if r.cost is not None else None,
        )  # fmt: skip
    if r.retryable and m.attempt_count < settings.CHANNELS_MAX_ATTEMPTS:
        delay = retry_delay(attempt=m.attempt_count, retry_after=r.retry_after)
        data = {"error": r.error, "status_code": r.status_code, "retry_in": round(delay, 1)}
        return Outcome(
            m.pk,
            MessageStatus.PENDING,
            "retry_scheduled",
            data,
            error=r.error,
            due_at=now + timedelta(seconds=delay),
        )
    if r.adapter_error:
        reason = Reason.ADAPTER_ERROR
    else:
        reason = Reason.RETRIES_EXHAUSTED if r.retryable else Reason.PROVIDER_REJECTED
    data = {"error": r.error, "status_code": r.status_code, "reason": reason}
    return Outcome(m.pk, MessageStatus.FAILED, "failed", data, error=r.error, skip_reason=reason)


def _results_record(
    *, worker: str, plan: _Plan, results: list[SendResult], now: datetime, stats: DispatchStats
) -> None:
    """Close the request's attempts and write each message's outcome, inside the caller's transaction."""
    ours = _ours(worker, [r.message_id for r in results])
    if len(ours) < len(results):
        logger.warning("channels: %d results arrived after the lease ended", len(results) - len(ours))
    results = sorted((r for r in results if r.message_id in ours), key=lambda r: r.message_id)
    provider = plan.adapter.provider
    outcomes = [_result_outcome(plan.rows[r.message_id], r, provider=provider, now=now) for r in results]
    records_update(
        MessageAttempt,
        [
            {
                "pk": plan.rows[r.message_id].attempt_id,
                "finished_at": now,
                "status_code": r.status_code,
                "duration_ms": r.duration_ms,
                "error": r.error,
                "retryable": r.retryable and not r.ok,
                "batch_size": r.batch_size,
                "request_id": r.request_id or None,
            }
            for r in results
        ],  # fmt: skip
        ["finished_at", "status_code", "duration_ms", "error", "retryable", "batch_size", "request_id"],
        keep_when_null=["request_id"],
    )
    outcomes_write(outcomes, now=now)
    stats.sent += sum(o.kind == "sent" for o in outcomes)
    stats.retrying += sum(o.kind == "retry_scheduled" for o in outcomes)
    stats.failed += sum(o.kind == "failed" for o in outcomes)
    for r, outcome in zip(results, outcomes, strict=True):
        if outcome.kind == "failed" and r.invalid_address:
            # The provider says this token/number is gone for good: stop using it.
            m = plan.rows[r.message_id]
            ContactPoint.objects.filter(profile_id=m.profile_id, channel=m.channel, address=m.address).update(
                active=False
            )
    sent = [r for r in results if r.ok]
    if settings.CHANNELS_TRACK_SENT_EVENTS and sent:
        from channels.results import profile_events_ingest

        messages = Message.objects.filter(pk__in=[r.message_id for r in sent]).select_related("template")
        profile_events_ingest([(message, Result(message.pk, "sent", now)) for message in messages])
    followups = [
        Result(r.message_id, e.kind, now + timedelta(seconds=e.seconds_later), e.data, f"{provider}:{r.message_id}:{e.kind}")
        for r in sent
        for e in r.events
    ]  # fmt: skip
    if followups:
        results_record(followups)


def leases_sweep(*, limit: int = 1000) -> int:
    """Resolve messages whose worker's lease ran out (a crash). Returns how many were resolved."""
    now = timezone.now()
    with transaction.atomic():
        stale = list(
            Message.objects.select_for_update(skip_locked=True)
            # A set-aside message waits for an operator's Retry, which hands it back to this sweep.
            .filter(status=MessageStatus.SENDING, lease_until__lt=now, set_aside_at__isnull=True)
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
