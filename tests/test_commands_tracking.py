"""create_source and create_api_token: what they print, and clear errors."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.tracking_helpers import token_client
from tracking.models import Source

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_create_source_prints_a_generated_key():
    key = run("create_source", "storefront", "--rate-limit", "300")
    source = Source.objects.get(name="storefront")
    assert key == source.write_key and len(key) >= 20
    assert source.rate_limit_per_second == 300


def test_create_source_with_given_key():
    assert run("create_source", "ios", "--write-key", "wk_ios_1234") == "wk_ios_1234"
    assert Source.objects.get(name="ios").write_key == "wk_ios_1234"


@pytest.mark.parametrize(
    "args,message",
    [
        (("web",), "a source named 'web' already exists"),
        (("other", "--write-key", "wk_test_web"), "another source already uses this write key"),
        (("other", "--write-key", "no"), "write_key: 8 to 100 characters"),
        (("other", "--rate-limit", "0"), "rate_limit_per_second: must be at least 1"),
    ],
)
def test_create_source_refuses_clearly(source, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_source", *args)
    assert Source.objects.count() == 1


def test_create_api_token_prints_a_working_bearer_token(staff_user):
    key = run("create_api_token", "admin")
    assert Token.objects.get(user=staff_user).key == key
    assert run("create_api_token", "admin") == key  # the same token on repeat
    client = token_client(staff_user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/profiles/").status_code == 200


def test_create_api_token_rotate_gives_a_new_token(staff_user):
    first = run("create_api_token", "admin")
    second = run("create_api_token", "admin", "--rotate")
    assert first != second and Token.objects.get(user=staff_user).key == second


def test_create_api_token_for_an_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match="no user 'ghost'"):
        run("create_api_token", "ghost")
    assert not User.objects.filter(username="ghost").exists()


def test_create_api_token_can_create_a_user_in_a_role():
    key = run("create_api_token", "reporting-bot", "--create", "--role", "marketer")
    user = User.objects.get(username="reporting-bot")
    assert [g.name for g in user.groups.all()] == ["marketer"]
    assert not user.has_usable_password()
    assert Token.objects.get(user=user).key == key


def test_create_needs_a_role():
    with pytest.raises(CommandError, match="--create needs --role"):
        run("create_api_token", "bot", "--create")
    with pytest.raises(CommandError):
        run("create_api_token", "bot", "--create", "--role", "admin")
