"""Static audiences from a CSV: good lines kept, bad ones reported by line, a match report."""

import io

import pytest

from audiences.models import Audience, AudienceKind, AudienceMembership
from audiences.testing import profile_add
from tracking.models import Identity

pytestmark = pytest.mark.django_db


@pytest.fixture
def known():
    ana, ben = profile_add(), profile_add()
    Identity.objects.create(profile=ana, kind="email", value="ana@example.com")
    Identity.objects.create(profile=ben, kind="phone", value="+4915112345678")
    Identity.objects.create(profile=ben, kind="user_id", value="u-ben")
    return ana, ben


def upload(api_client, slug, text, **fields):
    f = io.BytesIO(text.encode())
    f.name = "list.csv"
    return api_client.post(f"/api/audiences/{slug}/upload/", {"file": f, **fields}, format="multipart")


def test_email_upload_reports_matched_unmatched_and_invalid_lines(api_client, known):
    ana, _ = known
    Audience.objects.create(slug="list", name="List", kind=AudienceKind.STATIC)
    r = upload(
        api_client,
        "list",
        "email\nANA@Example.com\nnobody@example.com\nnot-an-email\n\nana@example.com\n",
        id_kind="email",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["matched"], body["unmatched"], body["members"]) == (1, 1, 1)
    assert body["invalid"] == [{"line": 4, "value": "not-an-email", "reason": "not a valid email address"}]
    assert body["unmatched_sample"] == ["nobody@example.com"]
    assert set(AudienceMembership.objects.values_list("profile_id", flat=True)) == {ana.pk}


def test_named_column_phones_and_replace(api_client, known):
    ana, ben = known
    audience = Audience.objects.create(slug="list", name="List", kind=AudienceKind.STATIC)
    AudienceMembership.objects.create(audience=audience, profile=ana, entered_at="2025-01-01T00:00Z")
    r = upload(
        api_client,
        "list",
        "name,mobile\nBen,+49 151 12345678\nX,12\n",
        id_kind="phone",
        column="mobile",
        replace="true",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["invalid"][0]["line"] == 3
    open_ids = set(audience.memberships.filter(exited_at__isnull=True).values_list("profile_id", flat=True))
    assert open_ids == {ben.pk}  # replace closed ana's stay, kept in history
    assert audience.memberships.filter(profile=ana, exited_at__isnull=False).exists()


def test_user_ids_and_unreadable_uploads(api_client, known):
    _, ben = known
    Audience.objects.create(slug="list", name="List", kind=AudienceKind.STATIC)
    Audience.objects.create(slug="rule", name="Rule", rule={"tag": "x"})
    assert upload(api_client, "list", "u-ben\nu-none\n", id_kind="user_id").json()["matched"] == 1
    r = upload(api_client, "list", "a,b\n1,2\n", id_kind="email", column="email")
    assert r.status_code == 400 and "column 'email'" in r.json()["file"][0]
    r = upload(api_client, "rule", "u-ben\n", id_kind="user_id")
    assert r.status_code == 400 and "static" in r.json()["file"][0]
    f = io.BytesIO(b"\xff\xfe\x00bad")
    f.name = "x.csv"
    r = api_client.post("/api/audiences/list/upload/", {"file": f, "id_kind": "email"}, format="multipart")
    assert r.status_code == 400
