"""The admin: secrets are write-only, templates preview for any profile and test-send, the outbox shows timelines."""

import pytest

from channels.dispatch import dispatch_until_idle
from channels.models import ChannelSettings, Message
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


def test_secrets_are_never_shown_back_and_kept_when_left_empty(admin_client):
    row = ChannelSettings.objects.create(
        channel="email", provider="sendgrid", secrets={"api_key": "SG.very-secret"}
    )
    url = f"/admin/channels/channelsettings/{row.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b"SG.very-secret" not in page.content and b"Currently set" in page.content
    response = admin_client.post(
        url,
        {
            "channel": "email",
            "provider": "sendgrid",
            "enabled": "on",
            "options": '{"from_email": "shop@example.com"}',
        },
    )
    assert response.status_code == 302, response.content[:2000]
    row.refresh_from_db()
    assert row.secrets == {"api_key": "SG.very-secret"}
    assert row.options == {"from_email": "shop@example.com"}
    listing = admin_client.get("/admin/channels/channelsettings/")
    assert b"SG.very-secret" not in listing.content and b"api_key" in listing.content


def test_secret_can_be_replaced(admin_client):
    row = ChannelSettings.objects.create(channel="email", provider="sendgrid", secrets={"api_key": "old"})
    admin_client.post(
        f"/admin/channels/channelsettings/{row.pk}/change/",
        {
            "channel": "email",
            "provider": "sendgrid",
            "enabled": "on",
            "options": "{}",
            "secret_api_key": "new",
        },
    )
    row.refresh_from_db()
    assert row.secrets["api_key"] == "new"


def test_template_preview_renders_for_a_profile_and_reports_render_errors(admin_client):
    template = template_make()
    profile = profile_make(traits={"first_name": "Zoë"})
    url = f"/admin/channels/template/{template.pk}/preview/"
    page = admin_client.get(url, {"profile_id": profile.pk, "data": '{"code": "SPRING"}'})
    assert page.status_code == 200
    assert "Welcome Zoë".encode() in page.content and b"SPRING" in page.content
    broken = admin_client.get(url, {"profile_id": profile.pk, "data": "{}"})
    assert b"data.code is undefined" in broken.content


def test_test_send_queues_a_message_and_shows_its_timeline(admin_client, sandbox):
    template = template_make()
    profile = profile_make()
    response = admin_client.post(
        f"/admin/channels/template/{template.pk}/preview/",
        {"profile_id": profile.pk, "data": '{"code": "T"}', "test_send": "1"},
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.campaign_kind == "test" and message.topic == "transactional"
    dispatch_until_idle()
    page = admin_client.get(response["Location"])
    assert page.status_code == 200 and b"sent" in page.content and b"sandbox" in page.content


def test_outbox_filters_by_status_and_reason(admin_client, sandbox):
    template_make()
    ok, no_point = profile_make(), profile_make(email=False)
    for p in (ok, no_point):
        message_enqueue(
            profile_id=p.pk,
            channel="email",
            template_slug="welcome",
            data={"code": "1"},
            idempotency_key=f"o{p.pk}",
        )
    dispatch_until_idle()
    page = admin_client.get("/admin/channels/message/", {"skip_reason": "no_contact_point"})
    assert page.status_code == 200 and page.content.count(b'class="field-id"') == 1


def test_demo_loader_sets_up_sandbox_templates_and_sends_a_few(sandbox):
    import io

    from channels.demo import load_demo
    from channels.models import SandboxDelivery, Template

    profile_make()
    out = io.StringIO()
    load_demo(stdout=out)
    load_demo(stdout=io.StringIO())  # twice is fine
    assert {"welcome", "gift", "recommendations", "win-back", "sms-flash-sale", "push-back-in-stock"} <= set(
        Template.objects.values_list("slug", flat=True)
    )
    assert SandboxDelivery.objects.count() >= 1 and "welcome emails sent" in out.getvalue()


def test_operator_adds_a_suppression_with_defaults_and_the_address_normalised(admin_client):
    from channels.models import Suppression
    from channels.suppressions import suppressions_find

    form = admin_client.get("/admin/channels/suppression/add/")
    assert form.status_code == 200 and b'name="at_0"' in form.content
    response = admin_client.post(
        "/admin/channels/suppression/add/",
        {
            "channel": "email",
            "address": " Bounce.Test@Example.com ",
            "reason": "manual",
            "at_0": form.context["adminform"].form["at"].value().strftime("%Y-%m-%d"),
            "at_1": form.context["adminform"].form["at"].value().strftime("%H:%M:%S"),
            "detail": "asked by phone",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    row = Suppression.objects.get()
    assert row.address == "bounce.test@example.com" and len(row.address_key) == 64
    assert suppressions_find(channel="email", addresses=["BOUNCE.test@example.com"]) == {
        "BOUNCE.test@example.com": "manual"
    }
    again = admin_client.post(
        "/admin/channels/suppression/add/",
        {
            "channel": "email",
            "address": "bounce.test@EXAMPLE.com",
            "reason": "manual",
            "at_0": "2026-01-01",
            "at_1": "00:00:00",
        },
    )
    assert again.status_code == 200 and b"already suppressed" in again.content
    assert Suppression.objects.count() == 1
