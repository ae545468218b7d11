"""The profile management API: look-up by identity, detail, merges, events paging, consent."""

from __future__ import annotations

import pytest

from tests.tracking_helpers import ingest, role_user, token_client
from tracking.models import ConsentChange, Identity, Profile

pytestmark = pytest.mark.django_db


def _profile_of(kind: str, value: str) -> Profile:
    return Identity.objects.get(kind=kind, value=value).profile


@pytest.fixture
def ana(source):
    ingest(
        source,
        {
            "type": "identify",
            "userId": "u-ana",
            "anonymousId": "anon-ana",
            "traits": {
                "email": "Ana@Example.COM",
                "phone": "+49 151 12345678",
                "name": "Ana",
                "timezone": "Europe/Berlin",
            },
            "context": {"externalIds": [{"id": "A2X9", "type": "amazon_buyer_id", "collection": "users"}]},
            "timestamp": "2025-03-01T10:00:00Z",
        },
    )
    return _profile_of("user_id", "u-ana")


@pytest.mark.parametrize(
    "query",
    [
        "user_id=u-ana",
        "anonymous_id=anon-ana",
        "email=%20ANA@example.com",
        "phone=%2B4915112345678",
        "phone=%2B49%20151%201234%205678",
        "external_id=A2X9",
        "external_id=A2X9&namespace=amazon_buyer_id",
        "user_id=u-ana&email=ana@example.com",
    ],
)
def test_profile_is_found_by_any_identity_normalised(api_client, ana, source, query):
    ingest(source, {"type": "identify", "userId": "u-other", "traits": {"email": "other@example.com"}})
    r = api_client.get(f"/api/profiles/?{query}")
    assert r.status_code == 200, r.json()
    assert [p["id"] for p in r.json()["results"]] == [ana.pk]


def test_look_up_with_no_match_or_conflicting_identities_is_empty(api_client, ana, source):
    ingest(source, {"type": "identify", "userId": "u-other", "traits": {"email": "other@example.com"}})
    assert api_client.get("/api/profiles/?user_id=nobody").json()["results"] == []
    assert api_client.get("/api/profiles/?user_id=u-ana&email=other@example.com").json()["results"] == []
    assert api_client.get("/api/profiles/?external_id=A2X9&namespace=shopify").json()["results"] == []


@pytest.mark.parametrize(
    "query,field",
    [
        ("email=ana@", "email"),
        ("phone=12", "phone"),
        ("phone=%2B1", "phone"),
        ("namespace=amazon_buyer_id", "namespace"),
    ],
)
def test_bad_look_up_values_answer_400_naming_the_parameter(api_client, query, field):
    r = api_client.get(f"/api/profiles/?{query}")
    assert r.status_code == 400
    assert field in r.json()


def test_profile_detail_has_identities_traits_locality_contact_points_and_consent(api_client, ana):
    api_client.post(
        f"/api/profiles/{ana.pk}/consent/",
        {"channel": "email", "granted": True, "method": "form", "detail": "checkout"},
        format="json",
    )
    body = api_client.get(f"/api/profiles/{ana.pk}/").json()
    assert body["id"] == ana.pk and body["requested_id"] is None
    identities = {(i["kind"], i["namespace"], i["value"]) for i in body["identities"]}
    assert identities == {
        ("user_id", "", "u-ana"),
        ("anonymous_id", "", "anon-ana"),
        ("email", "", "ana@example.com"),
        ("phone", "", "+4915112345678"),
        ("external", "amazon_buyer_id", "A2X9"),
    }
    assert body["traits"]["name"] == "Ana"
    assert body["trait_updated_at"]["name"].startswith("2025-03-01T10:00:00")
    assert body["timezone"] == "Europe/Berlin"
    assert {(c["channel"], c["address"]) for c in body["contact_points"]} == {
        ("email", "ana@example.com"),
        ("sms", "+4915112345678"),
        ("whatsapp", "+4915112345678"),
    }
    assert [(c["channel"], c["topic"], c["status"], c["method"]) for c in body["consent"]["current"]] == [
        ("email", "marketing", "granted", "form")
    ]
    assert len(body["consent"]["history"]) == 1


def test_merged_profile_id_answers_with_the_survivor(api_client, source):
    ingest(source, {"type": "track", "anonymousId": "anon-1", "event": "Product Viewed"})
    ingest(source, {"type": "identify", "userId": "u-1", "traits": {"email": "bo@example.com"}})
    anonymous, known = _profile_of("anonymous_id", "anon-1"), _profile_of("user_id", "u-1")
    assert anonymous.pk != known.pk
    ingest(source, {"type": "alias", "previousId": "anon-1", "userId": "u-1"})

    survivor_id = min(anonymous.pk, known.pk)
    merged_id = max(anonymous.pk, known.pk)
    r = api_client.get(f"/api/profiles/{merged_id}/")
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["requested_id"]) == (survivor_id, merged_id)
    assert r["Content-Location"] == f"/api/profiles/{survivor_id}/"
    assert merged_id in api_client.get(f"/api/profiles/{survivor_id}/").json()["merged_profile_ids"]
    events = api_client.get(f"/api/profiles/{merged_id}/events/").json()["results"]
    assert sorted(e["type"] for e in events) == ["alias", "identify", "track"]


def test_unknown_profile_is_404_and_not_a_500(api_client):
    assert api_client.get("/api/profiles/999999/").status_code == 404
    assert api_client.get("/api/profiles/abc/").status_code == 404
    assert api_client.get("/api/profiles/999999/events/").status_code == 404
    assert api_client.post("/api/profiles/999999/consent/", {}, format="json").status_code == 404


def test_events_are_newest_first_and_every_one_is_reached_by_cursor(api_client, source):
    # 25 events, several sharing a timestamp, paged 4 at a time: no event lost or repeated.
    messages = [
        {
            "type": "track",
            "userId": "u-pager",
            "event": f"Step {i}",
            "messageId": f"m-{i}",
            "timestamp": f"2025-03-01T10:00:{i // 3:02d}Z",
        }
        for i in range(25)
    ]
    ingest(source, *messages)
    profile = _profile_of("user_id", "u-pager")
    seen, url = [], f"/api/profiles/{profile.pk}/events/?page_size=4"
    while url:
        body = api_client.get(url).json()
        seen.extend(body["results"])
        url = body["next"]
    assert len(seen) == 25 and len({e["id"] for e in seen}) == 25
    keys = [(e["timestamp"], e["id"]) for e in seen]
    assert keys == sorted(keys, reverse=True)


def test_events_filter_by_type_name_and_time(api_client, source):
    ingest(
        source,
        {"type": "page", "userId": "u-f", "name": "Home", "timestamp": "2025-03-01T09:00:00Z"},
        {"type": "track", "userId": "u-f", "event": "Cart Viewed", "timestamp": "2025-03-01T10:00:00Z"},
        {"type": "track", "userId": "u-f", "event": "Order Completed", "timestamp": "2025-03-01T11:00:00Z"},
    )
    pid = _profile_of("user_id", "u-f").pk

    def names(q):
        return [e["name"] for e in api_client.get(f"/api/profiles/{pid}/events/?{q}").json()["results"]]

    assert names("type=track") == ["Order Completed", "Cart Viewed"]
    assert names("name=Home") == ["Home"]
    assert names("since=2025-03-01T10:00:00Z") == ["Order Completed", "Cart Viewed"]
    assert names("until=2025-03-01T10:00:00Z") == ["Home"]
    assert names("since=2025-03-01T09:30:00Z&until=2025-03-01T10:30:00Z") == ["Cart Viewed"]


@pytest.mark.parametrize(
    "query,field",
    [
        ("type=purchase", "type"),
        ("since=yesterday", "since"),
        ("since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z", "until"),
        ("cursor=zzz", "cursor"),
        ("page_size=0", "page_size"),
    ],
)
def test_bad_event_filters_answer_400_naming_the_parameter(api_client, ana, query, field):
    r = api_client.get(f"/api/profiles/{ana.pk}/events/?{query}")
    assert r.status_code == 400
    assert field in r.json()


def test_consent_is_set_and_withdrawn_with_history(api_client, ana):
    url = f"/api/profiles/{ana.pk}/consent/"
    r = api_client.post(
        url, {"channel": "sms", "topic": "promotions", "granted": True, "method": "form"}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "granted"
    r = api_client.put(
        url,
        {
            "channel": "sms",
            "topic": "promotions",
            "granted": False,
            "method": "sms_keyword",
            "detail": "STOP",
        },
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    consent = api_client.get(f"/api/profiles/{ana.pk}/").json()["consent"]
    assert [(c["channel"], c["topic"], c["status"], c["detail"]) for c in consent["current"]] == [
        ("sms", "promotions", "withdrawn", "STOP")
    ]
    assert [c["status"] for c in consent["history"]] == ["withdrawn", "granted"]
    assert ConsentChange.objects.filter(profile=ana).count() == 2


def test_bad_consent_input_is_400_by_field(api_client, ana):
    r = api_client.post(
        f"/api/profiles/{ana.pk}/consent/", {"channel": "fax", "granted": "maybe"}, format="json"
    )
    assert r.status_code == 400
    assert set(r.json()) == {"channel", "granted", "method"}
    assert not ConsentChange.objects.exists()


def test_api_needs_a_token_and_a_role(client, ana):
    assert client.get("/api/profiles/").status_code == 401
    nobody = token_client(role_user("marketer", "no-role-yet"))
    nobody.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert nobody.get("/api/profiles/").status_code == 401
    from django.contrib.auth.models import User

    plain = token_client(User.objects.create_user("plain"))
    assert plain.get(f"/api/profiles/{ana.pk}/").status_code == 403


def test_event_list_filters_by_source_and_reads_one_event(api_client, source):
    from tracking.models import Source

    other = Source.objects.create(name="amazon", write_key="wk_amazon_123")
    ingest(source, {"type": "track", "userId": "u-s", "event": "Viewed"})
    ingest(other, {"type": "track", "userId": "u-s", "event": "Order Completed"})
    names = lambda q: [e["name"] for e in api_client.get(f"/api/events/?{q}").json()["results"]]  # noqa: E731
    assert sorted(names("")) == ["Order Completed", "Viewed"]
    assert names("source=amazon") == ["Order Completed"]
    assert names(f"source={source.pk}") == ["Viewed"]
    r = api_client.get("/api/events/?source=nope")
    assert r.status_code == 400 and "source" in r.json()
    event_id = api_client.get("/api/events/?source=amazon").json()["results"][0]["id"]
    assert api_client.get(f"/api/events/{event_id}/").json()["source"] == "amazon"
    assert api_client.delete(f"/api/events/{event_id}/").status_code == 405
