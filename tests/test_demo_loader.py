"""The demo store: markets and time zones, campaign sign-ups, merges, Amazon matches, consent, idempotence."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from tracking.models import (
    Consent,
    ConsentChange,
    Event,
    Identity,
    OrderImport,
    Profile,
    ProfileMerge,
)

pytestmark = pytest.mark.django_db
ECOMMERCE = {
    "Products Searched",
    "Product Viewed",
    "Product Added",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
    "Signed Up",
}


@pytest.fixture
def password_file(tmp_path, monkeypatch):
    path = tmp_path / "demo-password"
    monkeypatch.setenv("VOYAGE_DEMO_PASSWORD_FILE", str(path))
    return path


def _load() -> str:
    out = StringIO()
    call_command("load_demo", "--shoppers", "80", "--no-progress", stdout=out)
    return out.getvalue()


def _store_events():
    """The store's own events: channel results (source voyage-channels) keep arriving as the demo
    journey sends, so they are not part of what a re-run must leave unchanged."""
    return Event.objects.filter(source__name__in=["web", "ios", "amazon"])


def _counts() -> tuple[int, ...]:
    return (
        _store_events().count(),
        Profile.objects.count(),
        Identity.objects.count(),
        ProfileMerge.objects.count(),
        ConsentChange.objects.count(),
        OrderImport.objects.count(),
        User.objects.count(),
    )


def test_demo_store_is_loaded_through_the_pipeline_and_a_rerun_changes_nothing(client, password_file):
    output = _load()

    # Six markets with their own time zones, locales and E.164 phones read from national formats.
    assert set(Profile.objects.values_list("country", flat=True)) >= {"US", "DE", "GB", "JP", "BR", "SA"}
    zones = set(Profile.objects.values_list("timezone", flat=True))
    assert zones >= {"Europe/Berlin", "Europe/London", "Asia/Tokyo", "Asia/Riyadh"}
    assert zones & {"America/Sao_Paulo", "America/Manaus"} and zones & {"America/New_York", "America/Chicago"}
    assert set(Profile.objects.values_list("locale", flat=True)) >= {"de-DE", "ja-JP", "pt-BR", "ar-SA"}
    phones = Identity.objects.filter(kind="phone").values_list("value", flat=True)
    assert {p[:3] for p in phones} >= {"+49", "+44", "+81", "+55", "+96"} and all(p[0] == "+" for p in phones)

    # Sessions use Segment's e-commerce names; sign-ups carry their campaign or affiliate.
    assert set(Event.objects.filter(type="track").values_list("name", flat=True)) >= ECOMMERCE
    signups = Event.objects.filter(name="Signed Up")
    assert signups.filter(context__campaign__medium="paid_social").exists()
    assert signups.filter(context__campaign__medium="affiliate", context__referrer__type="affiliate").exists()
    assert Event.objects.filter(source__name="ios", type="screen").exists()

    # Anonymous app sessions merged into the shopper when they logged in on the app.
    assert ProfileMerge.objects.exists()
    merged = Profile.objects.get(pk=ProfileMerge.objects.first().survivor_id)
    assert merged.identities.filter(kind="user_id").count() == 1
    assert merged.identities.filter(kind="anonymous_id").count() >= 2
    assert (
        merged.events.filter(source__name="ios").exists()
        and merged.events.filter(source__name="web").exists()
    )

    # Amazon orders came through the importer and found the web shoppers by email.
    amazon_import = OrderImport.objects.get(source__name="amazon")
    assert amazon_import.summary["orders_created"] > 0 and amazon_import.summary["errors"] == 0
    assert (
        amazon_import.summary["matched_existing_profiles"] > 0 and amazon_import.summary["new_profiles"] > 0
    )
    amazon_buyer = (
        Profile.objects.filter(events__source__name="amazon").filter(events__source__name="web").first()
    )
    assert amazon_buyer is not None and amazon_buyer.identities.filter(kind="user_id").exists()

    # Consent: mostly granted, some withdrawn, with history.
    assert (
        Consent.objects.filter(channel="email", status="granted").count()
        > Consent.objects.filter(channel="email", status="withdrawn").count()
    )
    assert (
        Consent.objects.filter(status="withdrawn").exists() and Consent.objects.filter(channel="sms").exists()
    )
    assert ConsentChange.objects.filter(method="form").exists()

    # Users for every role, with the password printed and kept outside git.
    password = password_file.read_text().strip()
    assert f"admin      password: {password}" in output and "http://127.0.0.1:8000/admin/" in output
    assert User.objects.get(username="admin").is_superuser
    for username, role in (
        ("operator", "operator"),
        ("designer", "journey designer"),
        ("marketer", "marketer"),
    ):
        assert User.objects.get(username=username).groups.filter(name=role).exists()
    assert client.login(username="operator", password=password)

    before = _counts()
    again = _load()
    assert "already loaded" in again and _counts() == before


def test_reset_reloads_the_same_store(password_file):
    _load()
    events = _store_events().count()
    orders = sorted(Event.objects.filter(name="Order Completed").values_list("message_id", flat=True))
    out = StringIO()
    call_command("load_demo", "--shoppers", "80", "--no-progress", "--reset", stdout=out)
    assert "Removed the demo's events" in out.getvalue()
    assert _store_events().count() == events
    assert sorted(Event.objects.filter(name="Order Completed").values_list("message_id", flat=True)) == orders
