"""What happens to a due message before anything is sent: consent, suppression, contact point,
frequency caps and quiet hours. Decided for a whole claimed batch with a handful of queries.

- Transactional messages ignore marketing opt-outs, marketing-only suppressions (unsubscribes),
  caps and quiet hours; hard bounces, spam reports and invalid addresses block every topic.
- Marketing needs an explicit opt-in on CHANNELS_MARKETING_OPT_IN_CHANNELS (SMS, WhatsApp by default)
  and no withdrawal elsewhere; a withdrawal of "marketing" also covers narrower marketing topics.
- Caps count messages handed to a provider in the profile's own last N calendar days.
- Quiet hours defer to the end of the window in the profile's zone; never a skip.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from channels.models import (
    SENT_STATUSES,
    CapScope,
    FrequencyCap,
    Message,
    Reason,
    SuppressionReason,
    Topic,
)
from channels.suppressions import suppressions_find
from channels.timing import calendar_window_start, parse_hhmm, quiet_hours_end
from tracking.models import Consent, ConsentStatus, ContactPoint, Profile

CAP_LOCK_CLASS = 7_114_002  # advisory-lock namespace: "voyage channels caps"


@dataclass
class Decision:
    action: str  # "send" | "skip" | "defer"
    reason: str = ""
    detail: str = ""
    address: str = ""
    until: datetime | None = None


def is_marketing(topic: str) -> bool:
    return topic != Topic.TRANSACTIONAL


def decisions_make(
    messages: list[Message],
    *,
    profiles: dict[int, Profile],
    now: datetime,
    quiet_hours: dict[str, tuple[str, str] | None],
) -> dict[int, Decision]:
    """One decision per message id. Call inside the claiming transaction (caps take profile locks)."""
    profile_ids = {m.profile_id for m in messages}
    channels = {m.channel for m in messages}
    points = _contact_points(profile_ids, channels)
    consents = _consents(profile_ids, channels)
    suppressions = _suppressions(points)
    caps = list(FrequencyCap.objects.filter(enabled=True))
    marketing_profiles = sorted({m.profile_id for m in messages if is_marketing(m.topic)})
    history: dict[int, list[tuple[str, str, int | None, datetime]]] = {}
    if caps and marketing_profiles:
        _lock_profiles(marketing_profiles)
        history = _cap_history(marketing_profiles, max(c.days for c in caps), now)

    decisions: dict[int, Decision] = {}
    for message in messages:
        profile = profiles.get(message.profile_id)
        if profile is None:
            decisions[message.pk] = Decision("skip", Reason.PROFILE_ERASED)
            continue
        decision = _decide(message, profile, points, consents, suppressions, caps, history, now, quiet_hours)
        decisions[message.pk] = decision
        if decision.action == "send" and is_marketing(message.topic):
            # Later messages in this batch see this one in the cap count.
            history.setdefault(message.profile_id, []).append(
                (message.channel, message.campaign_kind, message.campaign_id, now)
            )
    return decisions


def _decide(
    message: Message,
    profile: Profile,
    points: dict[tuple[int, str], list[str]],
    consents: dict[tuple[int, str, str], str],
    suppressions: dict[tuple[str, str], str],
    caps: list[FrequencyCap],
    history: dict[int, list[tuple[str, str, int | None, datetime]]],
    now: datetime,
    quiet_hours: dict[str, tuple[str, str] | None],
) -> Decision:
    marketing = is_marketing(message.topic)
    if marketing:
        refusal = _consent_refusal(message, consents)
        if refusal:
            return Decision("skip", Reason.UNSUBSCRIBED, refusal)
    addresses = points.get((message.profile_id, message.channel), [])
    if not addresses:
        return Decision("skip", Reason.NO_CONTACT_POINT, f"no active {message.channel} contact point")
    usable = [
        a
        for a in addresses
        if (reason := suppressions.get((message.channel, a))) is None
        or (reason == SuppressionReason.UNSUBSCRIBE and not marketing)
    ]
    if not usable:
        reason = suppressions.get((message.channel, addresses[0]), "")
        return Decision("skip", Reason.SUPPRESSED, f"{addresses[0]} is suppressed ({reason})")
    address = usable[0]
    if marketing:
        for cap in caps:
            if cap.channel and cap.channel != message.channel:
                continue
            if cap.scope == CapScope.CAMPAIGN and not message.campaign_kind:
                continue
            start = calendar_window_start(days=cap.days, tz_name=profile.timezone, at=now)
            count = sum(
                1
                for channel, kind, campaign_id, at in history.get(message.profile_id, [])
                if at >= start
                and (not cap.channel or channel == cap.channel)
                and (
                    cap.scope == CapScope.GLOBAL
                    or (kind == message.campaign_kind and campaign_id == message.campaign_id)
                )
            )
            if count >= cap.max_messages:
                return Decision("skip", Reason.CAPPED, f"cap reached: {cap}")
        window = quiet_hours.get(message.channel)
        if window:
            until = quiet_hours_end(
                start=parse_hhmm(window[0]), end=parse_hhmm(window[1]), tz_name=profile.timezone, at=now
            )
            if until is not None:
                return Decision("defer", "quiet_hours", f"quiet hours {window[0]}–{window[1]}", until=until)
    return Decision("send", address=address)


def _consent_refusal(message: Message, consents: dict[tuple[int, str, str], str]) -> str:
    key = (message.profile_id, message.channel)
    own = consents.get((*key, message.topic))
    general = consents.get((*key, Topic.MARKETING))
    if own == ConsentStatus.WITHDRAWN or general == ConsentStatus.WITHDRAWN:
        return f"{message.channel} {message.topic} consent withdrawn"
    if message.channel in settings.CHANNELS_MARKETING_OPT_IN_CHANNELS and ConsentStatus.GRANTED not in (
        own,
        general,
    ):
        return f"{message.channel} marketing needs an opt-in; none recorded"
    return ""


def _contact_points(profile_ids: set[int], channels: set[str]) -> dict[tuple[int, str], list[str]]:
    out: dict[tuple[int, str], list[str]] = defaultdict(list)
    rows = (
        ContactPoint.objects.filter(profile_id__in=profile_ids, channel__in=channels, active=True)
        .order_by("-is_primary", "-id")
        .values_list("profile_id", "channel", "address")
    )
    for profile_id, channel, address in rows:
        out[(profile_id, channel)].append(address)
    return out


def _consents(profile_ids: set[int], channels: set[str]) -> dict[tuple[int, str, str], str]:
    rows = Consent.objects.filter(profile_id__in=profile_ids, channel__in=channels).values_list(
        "profile_id", "channel", "topic", "status"
    )
    return {(p, c, t): s for p, c, t, s in rows}


def _suppressions(points: dict[tuple[int, str], list[str]]) -> dict[tuple[str, str], str]:
    by_channel: dict[str, set[str]] = defaultdict(set)
    for (_, channel), addresses in points.items():
        by_channel[channel].update(addresses)
    return {
        (channel, address): reason
        for channel, addresses in by_channel.items()
        for address, reason in suppressions_find(channel=channel, addresses=addresses).items()
    }


def _lock_profiles(profile_ids: list[int]) -> None:
    """Serialise cap decisions per profile across workers, so two workers cannot both pass a cap."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, s.k)) FROM "
            "(SELECT DISTINCT (x %% 2147483647)::int AS k FROM unnest(%s::bigint[]) AS x ORDER BY 1) AS s",
            [CAP_LOCK_CLASS, profile_ids],
        )


def _cap_history(
    profile_ids: list[int], days: int, now: datetime
) -> dict[int, list[tuple[str, str, int | None, datetime]]]:
    from datetime import timedelta

    # One extra day covers the widest time-zone offset; exact windows are applied per profile.
    since = now - timedelta(days=days + 1)
    out: dict[int, list[Any]] = defaultdict(list)
    rows = (
        Message.objects.filter(profile_id__in=profile_ids, dispatched_at__gte=since, status__in=SENT_STATUSES)
        .exclude(topic=Topic.TRANSACTIONAL)
        .values_list("profile_id", "channel", "campaign_kind", "campaign_id", "dispatched_at")
    )
    for profile_id, channel, kind, campaign_id, at in rows:
        out[profile_id].append((channel, kind, campaign_id, at))
    return out
