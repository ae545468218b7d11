"""Who may read what: every operation of the OpenAPI schema, walked with no token, a role-less token
and a token per role (issue 11). Reads need `view_*` like writes need `add_/change_/delete_*`."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import resolve
from rest_framework.permissions import IsAuthenticated
from rest_framework.test import APIClient

from channels.partner.views_api import CanViewEndpoints
from journeys.reports.api import CanViewReports
from tests.tracking_helpers import role_user, token_client
from tracking.analytics.api_acquisition import CanImportSpend, CanViewGrowth
from tracking.analytics.api_behaviour import CanViewBehaviour
from tracking.api.permissions import ModelPermissions, PersonalData
from tracking.roles import ROLES

pytestmark = pytest.mark.django_db
METHODS = ("get", "post", "put", "patch", "delete")
# The named permission each non-model permission class stands for.
NAMED = {
    CanViewReports: "reports.view_reports",
    CanViewGrowth: "analytics.view_growth",
    CanImportSpend: "analytics.add_adspend",
    CanViewBehaviour: "analytics.view_behaviour",
    CanViewEndpoints: "partner.view_endpoint",
    PersonalData: "tracking.view_personal_data",
}
MODEL_ACTION = {"get": "view", "post": "add", "put": "change", "patch": "change", "delete": "delete"}


@pytest.fixture(scope="module")
def operations(django_db_blocker) -> list[tuple[str, str]]:
    from django.test import Client

    with django_db_blocker.unblock():
        schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    # The management API only: /v1/* (Segment-compatible ingestion) takes a source's write key, not a
    # user's token (tests/test_ingest_http.py covers its 401s).
    ops = [
        (path, method)
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method in item
        if method in METHODS
    ]
    assert len(ops) > 50
    return ops


def concrete(path: str) -> str:
    """A path with every parameter filled by a value no row has: permission checks run before lookups,
    so no request of the walk finds (or changes) anything."""
    return re.sub(r"\{[^}]+\}", "999999", path)


def call(client: APIClient, path: str, method: str):
    return getattr(client, method)(concrete(path), {}, format="json")


def required_permissions(path: str, method: str) -> list[str]:
    """What the view of this operation asks of the user, read from its permission classes."""
    match = resolve(concrete(path))
    cls = match.func.cls
    view = cls(**getattr(match.func, "initkwargs", {}))
    actions = getattr(match.func, "actions", None) or {}
    view.action = actions.get(method)
    needed: list[str] = []
    for permission in view.get_permissions():
        if isinstance(permission, ModelPermissions):
            custom = getattr(view, "action_permissions", {}).get(view.action)
            if custom is not None:
                needed += custom
            else:
                model = view.queryset.model
                needed.append(f"{model._meta.app_label}.{MODEL_ACTION[method]}_{model._meta.model_name}")
        elif type(permission) in NAMED:
            needed.append(NAMED[type(permission)])
        elif type(permission) is not IsAuthenticated:
            raise AssertionError(f"{method.upper()} {path}: unknown permission {type(permission).__name__}")
    return needed


def test_every_operation_needs_a_permission_beyond_a_login(operations):
    open_to_any_login = [
        f"{method.upper()} {path}" for path, method in operations if not required_permissions(path, method)
    ]
    assert open_to_any_login == []


def test_without_a_token_every_operation_is_a_401(operations):
    client = APIClient()
    answers = {(path, method): call(client, path, method).status_code for path, method in operations}
    assert {k: v for k, v in answers.items() if v != 401} == {}


def test_a_user_without_a_role_gets_403_everywhere(operations):
    client = token_client(User.objects.create_user("nobody", password="pw-nobody-123"))
    answers = {(path, method): call(client, path, method).status_code for path, method in operations}
    assert {k: v for k, v in answers.items() if v != 403} == {}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_may_do_exactly_what_its_permissions_say(operations, role):
    user = role_user(role)
    client = token_client(user)
    wrong = {}
    for path, method in operations:
        allowed = User.objects.get(pk=user.pk).has_perms(required_permissions(path, method))
        status = call(client, path, method).status_code
        assert status < 500, (method, path, status)
        if allowed == (status == 403):
            wrong[f"{method.upper()} {path}"] = (status, "allowed" if allowed else "refused")
    assert wrong == {}


def test_role_grants_decide_partner_and_delivery_reads():
    """Spelled out for the defect that was found: a marketer reads partner endpoints (view_*), and
    what a role holds for an app decides the rest (tracking/roles.py)."""
    assert "view" in ROLES["marketer"]["partner"]
    client = token_client(role_user("marketer"))
    assert client.get("/api/partner/endpoints/").status_code == 200
    assert client.get("/api/partner/deliveries/").status_code == 200
    assert client.post("/api/partner/endpoints/", {}, format="json").status_code == 403
    nobody = token_client(User.objects.create_user("nobody", password="pw-nobody-123"))
    for path in ("/api/partner/endpoints/", "/api/partner/deliveries/", "/api/partner/event-types/"):
        assert nobody.get(path).status_code == 403, path
