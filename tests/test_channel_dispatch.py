"""The outbox: enqueue once per key, dispatch renders and sends through the provider, records everything."""

import pytest

from channels.dispatch import dispatch_until_idle
from channels.models import Message, MessageAttempt, MessageStatus
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make

pytest_plugins = ["tests.test_channel_support"]

pytestmark = pytest.mark.django_db


def test_enqueue_is_idempotent_by_key(fake_sendgrid):
    template_make()
    profile = profile_make()
    first = message_enqueue(
        profile_id=profile.pk, channel="email", template_slug="welcome", idempotency_key="k1"
    )
    again = message_enqueue(
        profile_id=profile.pk, channel="email", template_slug="welcome", idempotency_key="k1"
    )
    assert first.pk == again.pk
    assert Message.objects.count() == 1


def test_email_is_rendered_sent_and_recorded(fake_sendgrid):
    template_make()
    profile = profile_make(email="ana@example.com")
    message = message_enqueue(
        profile_id=profile.pk,
        channel="email",
        template_slug="welcome",
        data={"code": "X1"},
        idempotency_key="k2",
    )
    stats = dispatch_until_idle()
    assert stats.sent == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider == "sendgrid" and message.provider_message_id
    [email] = fake_sendgrid.emails
    assert email["to"] == "ana@example.com"
    assert email["subject"] == f"Welcome {profile.traits['first_name']}"
    assert "Code: X1" in email["html"]
    assert "/c/" in email["html"] and "https://shop.example.com/new" not in email["html"]
    assert email["headers"]["List-Unsubscribe"].startswith("<http")
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    attempt = MessageAttempt.objects.get(message=message)
    assert attempt.status_code == 202 and attempt.finished_at and attempt.duration_ms is not None
    assert list(message.events.values_list("kind", flat=True)) == ["queued", "sent"]


def test_messages_sharing_a_design_travel_in_one_request(fake_sendgrid):
    template_make()
    profiles = [profile_make() for _ in range(30)]
    for p in profiles:
        message_enqueue(
            profile_id=p.pk,
            channel="email",
            template_slug="welcome",
            data={"code": f"C{p.pk}"},
            idempotency_key=f"b{p.pk}",
        )
    dispatch_until_idle()
    assert len(fake_sendgrid.requests) == 1
    assert len(fake_sendgrid.requests[0]["body"]["personalizations"]) == 30
    by_to = {e["to"]: e for e in fake_sendgrid.emails}
    for p in profiles:
        email = by_to[p.contact_points.get().address]
        assert f"Hello {p.traits['first_name']}," in email["html"]
        assert f"Code: C{p.pk}" in email["html"]
    assert set(fake_sendgrid.count_by_message().values()) == {1}
