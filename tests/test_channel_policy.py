"""Every message that is not sent says why: consent, suppression, contact point, caps, render errors."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.dispatch import dispatch_until_idle
from channels.models import ChannelSettings, FrequencyCap, Message, MessageStatus, Reason
from channels.services import message_enqueue, reasons_count
from channels.suppressions import suppression_add
from tests.test_channel_support import profile_make, template_make
from tracking.services.profiles import consent_set

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db

DATA = {"code": "ABC"}


def _send(profile, key, *, slug="welcome", channel="email", topic="marketing", **kw):
    return message_enqueue(
        profile_id=profile.pk,
        channel=channel,
        template_slug=slug,
        topic=topic,
        data=DATA,
        idempotency_key=key,
        **kw,
    )


def _outcome(message):
    message.refresh_from_db()
    return message.status, message.skip_reason


def test_withdrawn_marketing_consent_skips_marketing_but_not_transactional(sandbox):
    template_make()
    profile = profile_make()
    consent_set(profile=profile, channel="email", granted=False, method="form")
    marketing = _send(profile, "m")
    receipt = _send(profile, "t", topic="transactional")
    dispatch_until_idle()
    assert _outcome(marketing) == (MessageStatus.SKIPPED, Reason.UNSUBSCRIBED)
    assert marketing.events.filter(kind="skipped").get().data["reason"] == "unsubscribed"
    assert _outcome(receipt)[0] != MessageStatus.SKIPPED


def test_sms_marketing_needs_an_opt_in(sandbox):
    template_make("sms-offer", channel="sms")
    without = profile_make(phone="+4915112345678", sms_opt_in=False)
    with_opt_in = profile_make(phone="+4915112345679")
    a, b = (
        _send(without, "a", slug="sms-offer", channel="sms"),
        _send(with_opt_in, "b", slug="sms-offer", channel="sms"),
    )
    dispatch_until_idle()
    assert _outcome(a) == (MessageStatus.SKIPPED, Reason.UNSUBSCRIBED)
    assert _outcome(b)[0] in (
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.OPENED,
        MessageStatus.CLICKED,
    )


def test_hard_bounced_address_is_suppressed_for_every_topic(sandbox):
    template_make()
    profile = profile_make(email="Gone@Example.com")
    suppression_add(channel="email", address="gone@example.com", reason="hard_bounce")
    m, t = _send(profile, "m"), _send(profile, "t", topic="transactional")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.SUPPRESSED)
    assert _outcome(t) == (MessageStatus.SKIPPED, Reason.SUPPRESSED)


def test_unsubscribe_suppression_blocks_marketing_only(sandbox):
    template_make()
    profile = profile_make(email="u@example.com")
    suppression_add(channel="email", address="u@example.com", reason="unsubscribe")
    m, t = _send(profile, "m"), _send(profile, "t", topic="transactional")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.SUPPRESSED)
    assert _outcome(t)[0] != MessageStatus.SKIPPED


def test_profile_without_contact_point_is_skipped(sandbox):
    template_make("push-hi", channel="push")
    profile = profile_make()
    m = _send(profile, "p", slug="push-hi", channel="push")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.NO_CONTACT_POINT)


def test_retired_contact_point_counts_as_none(sandbox):
    template_make()
    profile = profile_make()
    profile.contact_points.update(active=False)
    m = _send(profile, "x")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.NO_CONTACT_POINT)


def test_unknown_variable_is_a_render_error_and_nothing_is_sent(fake_sendgrid):
    template_make(html="<p>Hi {{ profile.nickname }}</p>")
    profile = profile_make()
    m = _send(profile, "r")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.RENDER_ERROR)
    assert "profile.nickname is undefined" in m.error and "html" in m.error
    assert fake_sendgrid.requests == []


def test_bad_liquid_syntax_is_a_render_error(sandbox):
    template_make(subject="{% if %}broken")
    m = _send(profile_make(), "s")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.RENDER_ERROR)
    assert m.error.startswith("welcome: subject:")


def test_missing_template_is_recorded_not_raised(sandbox):
    m = _send(profile_make(), "nt", slug="does-not-exist")
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.TEMPLATE_MISSING)


def test_channel_without_provider_is_skipped():
    template_make()
    m = _send(profile_make(), "nc")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.CHANNEL_DISABLED)


def test_disabled_channel_is_skipped(sandbox):
    ChannelSettings.objects.filter(channel="email").update(enabled=False)
    template_make()
    m = _send(profile_make(), "dc")
    dispatch_until_idle()
    assert _outcome(m) == (MessageStatus.SKIPPED, Reason.CHANNEL_DISABLED)


def test_global_cap_allows_three_marketing_messages_per_week(sandbox):
    FrequencyCap.objects.create(scope="global", channel="email", max_messages=3, days=7)
    template_make()
    profile = profile_make()
    marketing = [_send(profile, f"c{i}", campaign_kind="broadcast", campaign_id=9) for i in range(4)]
    receipt = _send(profile, "receipt", topic="transactional")
    dispatch_until_idle()
    outcomes = [_outcome(m) for m in marketing]
    assert sum(1 for o in outcomes if o == (MessageStatus.SKIPPED, Reason.CAPPED)) == 1
    assert _outcome(receipt)[0] != MessageStatus.SKIPPED
    assert reasons_count(campaign_kind="broadcast", campaign_id=9) == {"capped": 1}


def test_campaign_cap_counts_only_that_campaign(sandbox):
    FrequencyCap.objects.create(scope="campaign", channel="", max_messages=1, days=7)
    template_make()
    profile = profile_make()
    a1 = _send(profile, "a1", campaign_kind="journey", campaign_id=1)
    a2 = _send(profile, "a2", campaign_kind="journey", campaign_id=1)
    b1 = _send(profile, "b1", campaign_kind="journey", campaign_id=2)
    dispatch_until_idle()
    skipped = [m for m in (a1, a2, b1) if _outcome(m)[1] == Reason.CAPPED]
    assert len(skipped) == 1 and skipped[0].campaign_id == 1


def test_caps_count_the_profiles_own_calendar_days(sandbox):
    """A message sent before midnight seven local days ago falls outside a 7-day window."""
    FrequencyCap.objects.create(scope="global", channel="email", max_messages=1, days=7)
    template_make()
    profile = profile_make(tz="Pacific/Auckland")
    from channels.timing import calendar_window_start

    start = calendar_window_start(days=7, tz_name="Pacific/Auckland", at=timezone.now())
    old = _send(profile, "old")
    Message.objects.filter(pk=old.pk).update(status="sent", dispatched_at=start - timedelta(minutes=1))
    fresh = _send(profile, "fresh")
    dispatch_until_idle()
    assert _outcome(fresh)[1] != Reason.CAPPED
    Message.objects.filter(pk=fresh.pk).update(dispatched_at=start + timedelta(minutes=1))
    third = _send(profile, "third")
    dispatch_until_idle()
    assert _outcome(third) == (MessageStatus.SKIPPED, Reason.CAPPED)
