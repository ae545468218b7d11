"""Quiet hours defer (never drop) to the end of the window in the profile's zone; local send times; DST."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from channels.dispatch import dispatch_until_idle
from channels.models import ChannelSettings, Message, MessageStatus
from channels.services import message_enqueue
from channels.timing import calendar_window_start, next_local_time, quiet_hours_end
from tests.test_channel_support import profile_make, template_make

pytest_plugins = ["tests.test_channel_support"]


def test_sms_at_22_local_waits_until_8_next_morning():
    at = datetime(2025, 6, 10, 20, 0, tzinfo=UTC)  # 22:00 in Berlin (CEST)
    end = quiet_hours_end(start=time(21), end=time(8), tz_name="Europe/Berlin", at=at)
    assert end == datetime(2025, 6, 11, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_early_morning_is_quiet_until_8_the_same_day():
    at = datetime(2025, 6, 11, 3, 0, tzinfo=UTC)  # 05:00 Berlin
    assert quiet_hours_end(start=time(21), end=time(8), tz_name="Europe/Berlin", at=at) == datetime(
        2025, 6, 11, 6, 0, tzinfo=UTC
    )


def test_daytime_is_not_quiet():
    at = datetime(2025, 6, 11, 10, 0, tzinfo=UTC)
    assert quiet_hours_end(start=time(21), end=time(8), tz_name="Europe/Berlin", at=at) is None


def test_quiet_hours_end_across_the_spring_dst_change():
    # 22:00 CET on 29 March 2025; clocks go forward that night, so 08:00 next day is CEST (UTC+2).
    at = datetime(2025, 3, 29, 21, 0, tzinfo=UTC)
    assert quiet_hours_end(start=time(21), end=time(8), tz_name="Europe/Berlin", at=at) == datetime(
        2025, 3, 30, 6, 0, tzinfo=UTC
    )


def test_quiet_hours_end_across_the_autumn_dst_change_in_new_york():
    at = datetime(2025, 11, 2, 2, 0, tzinfo=UTC)  # 22:00 EDT on 1 Nov; 08:00 on 2 Nov is EST (UTC-5)
    assert quiet_hours_end(start=time(21), end=time(8), tz_name="America/New_York", at=at) == datetime(
        2025, 11, 2, 13, 0, tzinfo=UTC
    )


def test_send_at_10_local_in_each_zone():
    after = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
    tokyo = next_local_time(local=time(10), tz_name="Asia/Tokyo", after=after)
    la = next_local_time(local=time(10), tz_name="America/Los_Angeles", after=after)
    assert tokyo == datetime(2025, 6, 11, 1, 0, tzinfo=UTC)  # next day 10:00 JST
    assert la == datetime(2025, 6, 10, 17, 0, tzinfo=UTC)  # today 10:00 PDT


def test_local_time_inside_a_dst_gap_moves_past_the_gap():
    after = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
    at = next_local_time(local=time(2, 30), tz_name="Europe/Berlin", after=after)
    assert at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "03:30"


def test_calendar_window_starts_at_local_midnight():
    at = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
    start = calendar_window_start(days=7, tz_name="Asia/Tokyo", at=at)
    assert start == datetime(2025, 6, 3, 15, 0, tzinfo=UTC)  # 4 June 00:00 JST


@pytest.mark.django_db
def test_message_due_in_quiet_hours_is_deferred_not_dropped(sandbox):
    template_make("sms-offer", channel="sms")
    profile = profile_make(phone="+4915112345678", tz="Asia/Tokyo")
    local_now = timezone.now().astimezone(ZoneInfo("Asia/Tokyo"))
    start = (local_now - timedelta(hours=1)).strftime("%H:%M")
    end = (local_now + timedelta(hours=1)).strftime("%H:%M")
    ChannelSettings.objects.filter(channel="sms").update(options={"quiet_hours": [start, end]})
    message = message_enqueue(
        profile_id=profile.pk,
        channel="sms",
        template_slug="sms-offer",
        data={"code": "Q"},
        idempotency_key="q",
    )
    dispatch_until_idle()
    message.refresh_from_db()
    assert message.status == MessageStatus.DEFERRED
    assert timedelta(minutes=55) < message.due_at - timezone.now() < timedelta(minutes=61)
    assert message.events.filter(kind="deferred").get().data["reason"] == "quiet_hours"
    # When the window has passed it goes out.
    ChannelSettings.objects.filter(channel="sms").update(options={"quiet_hours": None})
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    dispatch_until_idle()
    message.refresh_from_db()
    assert message.sent_at is not None


@pytest.mark.django_db
def test_transactional_sms_ignores_quiet_hours(sandbox):
    template_make("otp", channel="sms", body="Your code {{ data.code }}")
    profile = profile_make(phone="+4915112345678")
    ChannelSettings.objects.filter(channel="sms").update(options={"quiet_hours": ["00:00", "23:59"]})
    message = message_enqueue(
        profile_id=profile.pk,
        channel="sms",
        template_slug="otp",
        topic="transactional",
        data={"code": "1"},
        idempotency_key="otp",
    )
    dispatch_until_idle()
    message.refresh_from_db()
    assert message.sent_at is not None


@pytest.mark.django_db
def test_enqueue_with_local_time_is_due_at_that_hour_in_the_profiles_zone(sandbox):
    template_make()
    profile = profile_make(tz="America/Sao_Paulo")
    message = message_enqueue(
        profile_id=profile.pk,
        channel="email",
        template_slug="welcome",
        data={"code": "1"},
        idempotency_key="lt",
        local_time="10:00",
    )
    local_due = message.due_at.astimezone(ZoneInfo("America/Sao_Paulo"))
    assert local_due.strftime("%H:%M") == "10:00"
    assert timedelta(0) <= message.due_at - timezone.now() <= timedelta(days=1)
