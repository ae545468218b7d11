"""Opting out and back in: unsubscribe links (RFC 8058 one-click), the preference page, SMS keywords."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from channels.models import Message, SuppressionReason
from channels.results import Result, results_record
from channels.suppressions import suppression_add, suppression_remove
from tracking.models import Consent, ConsentStatus, ContactPoint, Profile
from tracking.services.profiles import consent_set

# Twilio's standard opt-out, opt-in and help keywords (Advanced Opt-Out defaults).
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}


@transaction.atomic
def unsubscribe_apply(*, profile_id: int, channel: str, message_id: int | None, method: str) -> None:
    """Withdraw marketing consent on the channel; with a message, it is also a result on that message
    (timeline, suppression of the address for marketing, an "Unsubscribed" event on the profile)."""
    message = Message.objects.filter(pk=message_id, profile_id=profile_id).first() if message_id else None
    if message is not None:
        results_record([Result(message.pk, "unsubscribed", timezone.now(), {"method": method})])
        return
    profile = Profile.objects.filter(pk=profile_id).first()
    if profile is not None:
        consent_set(profile=profile, channel=channel, topic="marketing", granted=False, method=method)


def preferences_get(*, profile: Profile) -> list[dict]:
    """Marketing subscription per channel the profile can be reached on."""
    channels = sorted(
        set(ContactPoint.objects.filter(profile=profile, active=True).values_list("channel", flat=True))
    )
    consents = {
        c.channel: c.status
        for c in Consent.objects.filter(profile=profile, topic="marketing", channel__in=channels)
    }
    return [{"channel": c, "subscribed": consents.get(c) != ConsentStatus.WITHDRAWN} for c in channels]


@transaction.atomic
def preferences_set(*, profile: Profile, subscribed: dict[str, bool]) -> None:
    current = {p["channel"]: p["subscribed"] for p in preferences_get(profile=profile)}
    for channel, wanted in subscribed.items():
        if channel in current and current[channel] != wanted:
            consent_set(
                profile=profile, channel=channel, topic="marketing", granted=wanted, method="preference_page"
            )
            if wanted:
                addresses = ContactPoint.objects.filter(profile=profile, channel=channel).values_list(
                    "address", flat=True
                )
                suppression_remove(
                    channel=channel, addresses=addresses, reasons=[SuppressionReason.UNSUBSCRIBE]
                )


@dataclass
class KeywordOutcome:
    action: str  # "stop" | "start" | "help" | "none"
    profiles: int = 0


@transaction.atomic
def sms_keyword_apply(*, channel: str, address: str, body: str) -> KeywordOutcome:
    """Apply an inbound SMS/WhatsApp keyword from `address` (E.164)."""
    word = (body or "").strip().upper().rstrip(".!")
    profiles = list(
        Profile.objects.filter(contact_points__channel=channel, contact_points__address=address).distinct()
    )
    now = timezone.now()
    if word in STOP_WORDS:
        for profile in profiles:
            consent_set(
                profile=profile,
                channel=channel,
                topic="marketing",
                granted=False,
                method="sms_keyword",
                detail=word,
            )
        # Carriers block every further message after STOP, so the number is suppressed for all topics.
        suppression_add(
            channel=channel,
            address=address,
            reason=SuppressionReason.OPT_OUT,
            at=now,
            detail=f"keyword {word}",
            replace=True,
        )
        return KeywordOutcome("stop", len(profiles))
    if word in START_WORDS:
        for profile in profiles:
            consent_set(
                profile=profile,
                channel=channel,
                topic="marketing",
                granted=True,
                method="sms_keyword",
                detail=word,
            )
        suppression_remove(
            channel=channel,
            addresses=[address],
            reasons=[SuppressionReason.OPT_OUT, SuppressionReason.UNSUBSCRIBE],
        )
        return KeywordOutcome("start", len(profiles))
    if word in HELP_WORDS:
        return KeywordOutcome("help", len(profiles))
    return KeywordOutcome("none", len(profiles))
