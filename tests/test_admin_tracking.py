"""The tracking admin works for a superuser and for an operator: pages, search, timeline, erasure."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.tracking_helpers import ingest, role_user
from tracking import signals
from tracking.models import ConsentChange, Event, Identity, IdentityConflict, Profile, ProfileMerge, Source
from tracking.services.profiles import consent_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(source):
    ingest(
        source,
        {"type": "track", "anonymousId": "anon-kai", "event": "Product Viewed", "properties": {"sku": "K-1"}},
        {
            "type": "identify",
            "userId": "u-kai",
            "traits": {
                "email": "Kai@Example.com",
                "phone": "+81 90 1234 5678",
                "name": "Kai",
                "plan": "gold",
            },
        },
        {"type": "identify", "userId": "u-lea", "traits": {"email": "lea@example.com"}},
    )
    ingest(source, {"type": "alias", "previousId": "anon-kai", "userId": "u-kai"})
    # Another user id claiming Kai's email: recorded as a conflict, not merged.
    ingest(source, {"type": "identify", "userId": "u-impostor", "traits": {"email": "kai@example.com"}})
    kai = Identity.objects.get(value="u-kai").profile
    consent_set(profile=kai, channel="email", granted=True, method="form", detail="footer form")
    return kai, Identity.objects.get(value="u-lea").profile


@pytest.fixture(params=["superuser", "operator"])
def admin_client(request, staff_user) -> Client:
    user = staff_user if request.param == "superuser" else role_user("operator", staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_every_tracking_admin_page_renders(admin_client, people, source):
    kai, _ = people
    event = Event.objects.filter(profile=kai).first()
    assert IdentityConflict.objects.exists() and ProfileMerge.objects.exists()
    pages = [
        "/admin/tracking/profile/",
        f"/admin/tracking/profile/{kai.pk}/change/",
        f"/admin/tracking/profile/{kai.pk}/delete/",
        "/admin/tracking/source/",
        f"/admin/tracking/source/{source.pk}/change/",
        "/admin/tracking/source/add/",
        "/admin/tracking/event/",
        f"/admin/tracking/event/{event.pk}/change/",
        f"/admin/tracking/event/?source__id__exact={source.pk}&type__exact=track&name=Product+Viewed",
        "/admin/tracking/event/?timestamp__year=2030",
        "/admin/tracking/identityconflict/",
        "/admin/tracking/profilemerge/",
        "/admin/tracking/consentchange/",
    ]
    for url in pages:
        r = admin_client.get(url)
        assert r.status_code == 200, url


def test_profile_page_shows_traits_identities_consent_and_a_timeline(admin_client, people):
    kai, _ = people
    page = admin_client.get(f"/admin/tracking/profile/{kai.pk}/change/").content.decode()
    assert "&quot;plan&quot;: &quot;gold&quot;" in page  # traits pretty-printed
    for value in ("u-kai", "anon-kai", "kai@example.com", "+819012345678", "footer form"):
        assert value in page
    assert 'class="voyage-timeline"' in page
    assert page.count("/admin/tracking/event/") >= 4  # one link per event, plus "all events"
    assert "Product Viewed" in page and "K-1" in page


@pytest.mark.parametrize(
    "term", ["u-kai", "anon-kai", "KAI@example.COM ", "+81 90-1234-5678", "819012345678"]
)
def test_profile_search_matches_any_identity_normalised(admin_client, people, term):
    kai, lea = people
    r = admin_client.get("/admin/tracking/profile/", {"q": term})
    assert r.status_code == 200
    shown = [p.pk for p in r.context["cl"].result_list]
    assert shown == [kai.pk]


def test_profile_search_by_id_and_no_match(admin_client, people):
    _, lea = people
    assert [
        p.pk
        for p in admin_client.get("/admin/tracking/profile/", {"q": str(lea.pk)}).context["cl"].result_list
    ] == [lea.pk]
    assert (
        list(
            admin_client.get("/admin/tracking/profile/", {"q": "nobody@example.com"})
            .context["cl"]
            .result_list
        )
        == []
    )


def test_profile_list_shows_main_identity_and_email(admin_client, people):
    page = admin_client.get("/admin/tracking/profile/").content.decode()
    assert "User id: u-kai" in page and "kai@example.com" in page and "lea@example.com" in page


def test_events_are_read_only_in_the_admin(admin_client, people):
    event = Event.objects.first()
    assert admin_client.get("/admin/tracking/event/add/").status_code == 403
    r = admin_client.post(f"/admin/tracking/event/{event.pk}/change/", {"name": "Tampered"})
    assert r.status_code == 403
    assert admin_client.get(f"/admin/tracking/event/{event.pk}/delete/").status_code == 403
    event.refresh_from_db()
    assert event.name != "Tampered"
    assert admin_client.get("/admin/tracking/consentchange/add/").status_code == 403


def test_event_list_filters_by_name(admin_client, people):
    r = admin_client.get("/admin/tracking/event/", {"name": "Product Viewed"})
    names = {e.name for e in r.context["cl"].result_list}
    assert names == {"Product Viewed"}
    assert "Product Viewed" in r.content.decode()  # offered as a filter choice


def test_source_write_key_is_shown_read_only_and_rate_limit_is_editable(admin_client, source):
    page = admin_client.get(f"/admin/tracking/source/{source.pk}/change/").content.decode()
    assert "wk_test_web" in page and 'name="write_key"' not in page
    r = admin_client.post(
        f"/admin/tracking/source/{source.pk}/change/",
        {"name": "web", "enabled": "on", "rate_limit_per_second": "75", "write_key": "wk_hijack_1234"},
    )
    assert r.status_code == 302
    source.refresh_from_db()
    assert (source.rate_limit_per_second, source.write_key) == (75, "wk_test_web")


def test_new_source_from_the_admin_gets_a_write_key(admin_client):
    r = admin_client.post(
        "/admin/tracking/source/add/", {"name": "pos", "enabled": "on", "rate_limit_per_second": ""}
    )
    assert r.status_code == 302
    assert len(Source.objects.get(name="pos").write_key) >= 20


def test_deleting_a_profile_in_the_admin_is_a_gdpr_erasure(admin_client, people):
    kai, lea = people
    erased = []
    receiver = lambda sender, profile_id, **kw: erased.append(profile_id)  # noqa: E731
    signals.profile_erased.connect(receiver)
    try:
        r = admin_client.post(f"/admin/tracking/profile/{kai.pk}/delete/", {"post": "yes"})
    finally:
        signals.profile_erased.disconnect(receiver)
    assert r.status_code == 302
    assert erased == [kai.pk]
    assert not Profile.objects.filter(pk=kai.pk).exists()
    assert not Event.objects.filter(user_id="u-kai").exists()
    assert not ConsentChange.objects.filter(profile_id=kai.pk).exists()
    assert Profile.objects.filter(pk=lea.pk).exists()


def test_marketer_sees_no_profiles_and_cannot_delete(people):
    """Profiles are personal data (tracking.view_personal_data): marketers do not hold it by default."""
    kai, _ = people
    client = Client()
    client.force_login(role_user("marketer", staff=True))
    assert client.get(f"/admin/tracking/profile/{kai.pk}/change/").status_code == 403
    assert client.get("/admin/tracking/profile/").status_code == 403
    assert client.post(f"/admin/tracking/profile/{kai.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Profile.objects.filter(pk=kai.pk).exists()
