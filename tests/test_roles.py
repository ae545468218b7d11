"""The three roles exist after migrate with their permissions, and an API token can do what its role may."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from tests.tracking_helpers import ingest, role_user, token_client
from tracking.models import Identity, Profile
from tracking.roles import roles_sync

pytestmark = pytest.mark.django_db


def perms(role: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_the_three_roles_exist_after_migrate():
    assert {"operator", "journey designer", "marketer"} <= set(Group.objects.values_list("name", flat=True))


def test_operator_runs_the_tracking_data():
    granted = perms("operator")
    for model in ("profile", "source", "event", "consent", "contactpoint", "identity"):
        for action in ("view", "add", "change", "delete"):
            assert f"tracking.{action}_{model}" in granted
    assert "journeys.change_journey" not in granted


def test_marketer_only_reads_tracking():
    granted = perms("marketer")
    assert {"tracking.view_profile", "tracking.view_event", "tracking.view_source"} <= granted
    assert not {p for p in granted if p.startswith("tracking.") and not p.startswith("tracking.view_")}


def test_journey_designer_reads_tracking_and_builds_journeys():
    granted = perms("journey designer")
    assert "tracking.view_profile" in granted and "tracking.delete_profile" not in granted
    journey_perms = {
        p
        for p in Permission.objects.filter(content_type__app_label="journeys").values_list(
            "codename", flat=True
        )
    }
    assert {f"journeys.{c}" for c in journey_perms if c.startswith(("add_", "change_", "view_"))} <= granted


def test_roles_sync_restores_drifted_permissions():
    group = Group.objects.get(name="marketer")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="tracking", codename="delete_profile")
    )
    roles_sync()
    assert "tracking.delete_profile" not in perms("marketer")


@pytest.fixture
def profile(source) -> Profile:
    ingest(source, {"type": "identify", "userId": "u-role", "traits": {"email": "role@example.com"}})
    return Identity.objects.get(value="u-role").profile


@pytest.mark.parametrize("role", ["journey designer"])
def test_read_only_roles_read_profiles_but_cannot_delete_or_change_consent(role, profile):
    client = token_client(role_user(role))
    assert client.get(f"/api/profiles/{profile.pk}/").status_code == 200
    assert client.get(f"/api/profiles/{profile.pk}/events/").status_code == 200
    assert client.get("/api/profiles/?email=role@example.com").status_code == 200
    assert client.get(f"/api/profiles/{profile.pk}/export/").status_code == 200
    assert client.delete(f"/api/profiles/{profile.pk}/").status_code == 403
    consent = {"channel": "email", "granted": True, "method": "api"}
    assert client.post(f"/api/profiles/{profile.pk}/consent/", consent, format="json").status_code == 403
    assert Profile.objects.filter(pk=profile.pk).exists()


def test_marketers_read_no_personal_data_by_default(profile):
    """Issue 15: profiles are personal data, behind tracking.view_personal_data, which marketers lack."""
    from django.contrib.auth.models import Permission

    user = role_user("marketer")
    client = token_client(user)
    for url in (f"/api/profiles/{profile.pk}/", f"/api/profiles/{profile.pk}/events/", "/api/profiles/?email=role@example.com",
                f"/api/profiles/{profile.pk}/export/", "/api/events/"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    assert client.delete(f"/api/profiles/{profile.pk}/").status_code == 403
    # Granted on purpose (by an admin), the same marketer reads them.
    user.user_permissions.add(Permission.objects.get(codename="view_personal_data"))
    user = type(user).objects.get(pk=user.pk)
    assert token_client(user).get(f"/api/profiles/{profile.pk}/").status_code == 200


def test_operator_can_delete_and_set_consent(profile):
    client = token_client(role_user("operator"))
    consent = {"channel": "email", "granted": True, "method": "api"}
    assert client.post(f"/api/profiles/{profile.pk}/consent/", consent, format="json").status_code == 200
    assert client.delete(f"/api/profiles/{profile.pk}/").status_code == 204
    assert not Profile.objects.filter(pk=profile.pk).exists()


def test_audience_preview_and_members_show_people_only_to_those_who_may_read_them(profile):
    """A marketer sees how many match and how many are reachable, not who: no sample, no member list."""
    from audiences.services.audiences import audience_create

    audience_create(slug="everyone", name="Everyone", rule={"trait": "email", "op": "exists"})
    rule = {"rule": {"trait": "email", "op": "exists"}}
    marketer = token_client(role_user("marketer"))
    answer = marketer.post("/api/audiences/preview/", rule, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["count"] >= 1
    assert answer.json()["sample"] == [] and answer.json()["sample_hidden"] is True
    assert marketer.get("/api/audiences/everyone/members/").status_code == 403
    operator = token_client(role_user("operator"))
    answer = operator.post("/api/audiences/preview/", rule, format="json").json()
    assert answer["sample_hidden"] is False and [p["id"] for p in answer["sample"]] == [profile.pk]
    assert operator.get("/api/audiences/everyone/members/").status_code == 200
