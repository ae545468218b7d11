"""GDPR: erasure deletes everything about one person and nobody else; export hands it all over."""

from __future__ import annotations

import json

import pytest

from tests.tracking_helpers import ingest, role_user, token_client
from tracking import signals
from tracking.models import (
    Consent,
    ConsentChange,
    ContactPoint,
    Event,
    Identity,
    Profile,
    ProfileMerge,
)
from tracking.services.profiles import consent_set

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def two_people(source):
    ingest(
        source,
        {"type": "track", "anonymousId": "anon-eve", "event": "Product Viewed", "properties": {"sku": "S1"}},
        {
            "type": "identify",
            "userId": "u-eve",
            "traits": {"email": "eve@example.com", "phone": "+14155550100", "first_name": "Eve"},
        },
        {"type": "identify", "userId": "u-zoe", "traits": {"email": "zoe@example.com"}},
    )
    ingest(source, {"type": "alias", "previousId": "anon-eve", "userId": "u-eve"})
    eve = Identity.objects.get(value="u-eve").profile
    zoe = Identity.objects.get(value="u-zoe").profile
    consent_set(profile=eve, channel="email", granted=True, method="form")
    consent_set(profile=zoe, channel="email", granted=True, method="form")
    return eve, zoe


def _rows(profile_id: int) -> dict[str, int]:
    return {
        "events": Event.objects.filter(profile_id=profile_id).count(),
        "identities": Identity.objects.filter(profile_id=profile_id).count(),
        "contact_points": ContactPoint.objects.filter(profile_id=profile_id).count(),
        "consent": Consent.objects.filter(profile_id=profile_id).count(),
        "consent_history": ConsentChange.objects.filter(profile_id=profile_id).count(),
        "merges": ProfileMerge.objects.filter(survivor_id=profile_id).count(),
    }


def test_erasure_deletes_every_row_about_the_person_and_only_theirs(api_client, two_people):
    eve, zoe = two_people
    assert all(_rows(eve.pk).values()), _rows(eve.pk)
    zoe_before = _rows(zoe.pk)

    r = api_client.delete(f"/api/profiles/{eve.pk}/")

    assert r.status_code == 204
    assert not Profile.objects.filter(pk=eve.pk).exists()
    assert not any(_rows(eve.pk).values())
    assert not Identity.objects.filter(
        value__in=["u-eve", "anon-eve", "eve@example.com", "+14155550100"]
    ).exists()
    assert (
        not Event.objects.filter(user_id="u-eve").exists()
        and not Event.objects.filter(anonymous_id="anon-eve").exists()
    )
    assert _rows(zoe.pk) == zoe_before
    assert api_client.get(f"/api/profiles/{eve.pk}/").status_code == 404
    assert api_client.get("/api/profiles/?email=eve@example.com").json()["results"] == []


def test_erasure_by_an_id_merged_away_erases_the_person(api_client, two_people):
    eve, _ = two_people
    merged_id = ProfileMerge.objects.get(survivor=eve).merged_profile_id
    assert api_client.delete(f"/api/profiles/{merged_id}/").status_code == 204
    assert not Profile.objects.filter(pk=eve.pk).exists()
    assert api_client.get(f"/api/profiles/{merged_id}/").status_code == 404


def test_erasure_announces_itself_before_the_rows_go(api_client, two_people):
    eve, _ = two_people
    seen = []

    def receiver(sender, profile_id, **kwargs):
        # Upper floors delete their own rows here, while the profile still exists.
        seen.append((profile_id, Profile.objects.filter(pk=profile_id).exists()))

    signals.profile_erased.connect(receiver)
    try:
        api_client.delete(f"/api/profiles/{eve.pk}/")
    finally:
        signals.profile_erased.disconnect(receiver)
    assert seen == [(eve.pk, True)]


def test_marketer_cannot_erase_operator_can(two_people):
    eve, _ = two_people
    marketer = token_client(role_user("marketer"))
    assert marketer.delete(f"/api/profiles/{eve.pk}/").status_code == 403
    assert Profile.objects.filter(pk=eve.pk).exists()
    operator = token_client(role_user("operator"))
    assert operator.delete(f"/api/profiles/{eve.pk}/").status_code == 204


def test_export_is_a_download_with_everything_about_the_person(api_client, two_people):
    eve, _ = two_people
    r = api_client.get(f"/api/profiles/{eve.pk}/export/")
    assert r.status_code == 200
    assert r["Content-Disposition"] == f'attachment; filename="profile-{eve.pk}.json"'
    data = json.loads(r.content)
    assert data["profile"]["id"] == eve.pk
    assert data["profile"]["merged_profile_ids"] == list(
        ProfileMerge.objects.filter(survivor=eve).values_list("merged_profile_id", flat=True)
    )
    assert {i["value"] for i in data["identities"]} == {
        "u-eve",
        "anon-eve",
        "eve@example.com",
        "+14155550100",
    }
    assert [c["status"] for c in data["consent"]] == ["granted"]
    assert len(data["consent_history"]) == 1
    assert {c["channel"] for c in data["contact_points"]} == {"email", "sms", "whatsapp"}
    assert sorted(e["type"] for e in data["events"]) == ["alias", "identify", "track"]
    viewed = next(e for e in data["events"] if e["type"] == "track")
    assert viewed["properties"] == {"sku": "S1"} and viewed["source"] == "web"
    assert "zoe@example.com" not in r.content.decode()


def test_export_includes_sections_registered_by_upper_floors(api_client, two_people):
    from tracking import selectors

    eve, _ = two_people
    selectors.profile_export_section_register(
        "test_messages", lambda pid: [{"profile": pid, "subject": "Hi"}]
    )
    try:
        data = json.loads(api_client.get(f"/api/profiles/{eve.pk}/export/").content)
    finally:
        selectors._EXPORT_SECTIONS.pop("test_messages")
    assert data["test_messages"] == [{"profile": eve.pk, "subject": "Hi"}]


def test_erasure_also_removes_messages_sent_to_the_person(api_client, two_people):
    from django.utils import timezone

    from channels.models import Message

    eve, zoe = two_people
    for profile in (eve, zoe):
        Message.objects.create(
            profile=profile,
            channel="email",
            idempotency_key=f"erasure-test-{profile.pk}",
            due_at=timezone.now(),
        )
    assert api_client.delete(f"/api/profiles/{eve.pk}/").status_code == 204
    assert list(Message.objects.values_list("profile_id", flat=True)) == [zoe.pk]


def _columns_holding(values: list[str], profile_id: int) -> dict[str, int]:
    """Every row of every table whose text/JSON columns mention one of `values`, or whose profile-id
    columns hold `profile_id` — the erasure promise checked against the whole database, not a list."""
    from django.db import connection

    found: dict[str, int] = {}
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
              AND (c.data_type IN ('text', 'character varying', 'json', 'jsonb')
                   OR (c.data_type = 'bigint' AND c.column_name LIKE '%%profile_id'))
            """
        )
        for table, column, data_type in cur.fetchall():
            if data_type == "bigint":
                cur.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', [profile_id])
            else:
                cur.execute(
                    f'SELECT count(*) FROM "{table}" WHERE lower("{column}"::text) LIKE ANY(%s)',
                    [[f"%{v.lower()}%" for v in values]],
                )
            (n,) = cur.fetchone()
            if n:
                found[f"{table}.{column}"] = n
    return found


@pytest.mark.usefixtures("sandbox")
def test_after_erasure_no_row_anywhere_holds_the_persons_identifiers(api_client, two_people):
    """Messages, a bounce with the address in its reason, report bookkeeping, memberships, runs: after
    DELETE nothing in any text/JSON column names the person and no profile-id column holds their id;
    the bounced address stays suppressed (by its keyed hash) for whoever signs up with it next."""
    from audiences.models import Audience, AudienceMembership
    from channels.dispatch import dispatch_until_idle
    from channels.models import Message, Suppression
    from channels.results import Result, results_record
    from channels.services import message_enqueue
    from channels.suppressions import suppressions_find
    from journeys.reports.fold import profiles_mark_pending
    from journeys.reports.models import MessageFirst
    from tests.test_channel_support import template_make

    eve, zoe = two_people
    template_make()
    message = message_enqueue(
        profile_id=eve.pk,
        channel="email",
        template_slug="welcome",
        data={"code": "A"},
        idempotency_key="eve-1",
    )
    dispatch_until_idle()
    message.refresh_from_db()
    assert message.address == "eve@example.com", (message.status, message.skip_reason, message.error)
    results_record(
        [
            Result(
                message_id=message.pk,
                kind="bounced",
                at=message.sent_at,
                data={"reason": "550 eve@example.com: no such user"},
                provider_event_id="b1",
            )
        ]
    )
    MessageFirst.objects.create(message_id=message.pk, first_open_id=1)
    profiles_mark_pending(profile_ids=[eve.pk])
    audience = Audience.objects.create(name="All", slug="all", rule={"trait": "x", "op": "exists"})
    AudienceMembership.objects.create(audience=audience, profile=eve, entered_at=message.created_at)
    identifiers = ["eve@example.com", "+14155550100", "u-eve", "anon-eve"]
    assert _columns_holding(identifiers, eve.pk)  # the scan sees the person before erasure

    assert api_client.delete(f"/api/profiles/{eve.pk}/").status_code == 204

    assert _columns_holding(identifiers, eve.pk) == {}
    assert suppressions_find(channel="email", addresses=["EVE@example.com"]) == {
        "EVE@example.com": "hard_bounce"
    }
    assert Suppression.objects.get().address == ""
    assert Message.objects.filter(profile=zoe).count() == 0  # nobody else's rows were touched
    assert _columns_holding(["zoe@example.com"], zoe.pk)


def test_export_holds_messages_runs_memberships_and_suppressions(api_client, two_people, sandbox):
    from audiences.models import Audience, AudienceMembership
    from channels.dispatch import dispatch_until_idle
    from channels.services import message_enqueue
    from channels.suppressions import suppression_add
    from tests.test_channel_support import template_make

    eve, _ = two_people
    template_make()
    message_enqueue(
        profile_id=eve.pk, channel="email", template_slug="welcome", data={"code": "A"}, idempotency_key="x1"
    )
    dispatch_until_idle()
    suppression_add(channel="email", address="Eve@Example.com", reason="unsubscribe")
    audience = Audience.objects.create(name="All", slug="all", rule={"trait": "x", "op": "exists"})
    AudienceMembership.objects.create(audience=audience, profile=eve, entered_at=eve.created_at)

    data = json.loads(api_client.get(f"/api/profiles/{eve.pk}/export/").content)

    assert [m["address"] for m in data["messages"]] == ["eve@example.com"]
    assert {e["kind"] for e in data["messages"][0]["timeline"]} >= {"queued", "sent"}
    assert data["suppressions"] == [
        {
            "channel": "email",
            "address": "eve@example.com",
            "reason": "unsubscribe",
            "at": data["suppressions"][0]["at"],
            "detail": "",
        }
    ]
    assert [m["audience"] for m in data["audience_memberships"]] == ["all"]
    assert data["journey_runs"] == [] and data["broadcasts_received"] == []
