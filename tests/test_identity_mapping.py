"""ID-Mapping: events resolve to one profile per person, merges keep everything, user ids never merge."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from tracking.ingest import ingest_messages
from tracking.models import (
    Consent,
    ContactPoint,
    Event,
    Identity,
    IdentityConflict,
    Profile,
    ProfileMerge,
    Source,
)
from tracking.processing import events_process_pending
from tracking.services.profiles import consent_set, profile_resolve

pytestmark = pytest.mark.django_db


def at(minute: int, hour: int = 10) -> str:
    return f"2026-03-01T{hour:02d}:{minute:02d}:00Z"


def ingest(source: Source, *messages: dict) -> None:
    result = ingest_messages(list(messages), source=source)
    assert not result.rejected, result.rejected


def profile_of(kind: str, value: str) -> Profile:
    return Identity.objects.get(kind=kind, value=value).profile


def identify(user_id: str | None = None, anon: str | None = None, minute: int = 0, **traits) -> dict:
    message: dict = {"type": "identify", "traits": traits, "timestamp": at(minute)}
    if user_id:
        message["userId"] = user_id
    if anon:
        message["anonymousId"] = anon
    return message


def track(
    name: str, *, user_id: str | None = None, anon: str | None = None, minute: int = 0, **extra
) -> dict:
    message: dict = {"type": "track", "event": name, "timestamp": at(minute), **extra}
    if user_id:
        message["userId"] = user_id
    if anon:
        message["anonymousId"] = anon
    return message


def test_identify_with_user_id_and_anonymous_id_links_them(source):
    ingest(source, identify("u1", "a1", email="ann@example.com"))
    events_process_pending()
    profile = profile_of("user_id", "u1")
    assert set(profile.identities.values_list("kind", "value")) == {
        ("user_id", "u1"),
        ("anonymous_id", "a1"),
        ("email", "ann@example.com"),
    }
    assert profile.traits == {"email": "ann@example.com"}
    assert list(profile.contact_points.values_list("channel", "address", "is_primary")) == [
        ("email", "ann@example.com", True)
    ]


@pytest.mark.parametrize("same_batch", [True, False])
def test_earlier_anonymous_events_end_up_on_the_identified_profile(source, same_batch):
    ingest(source, track("Product Viewed", anon="a1", minute=1), track("Cart Viewed", anon="a1", minute=2))
    if not same_batch:
        events_process_pending()
    ingest(source, identify("u1", "a1", minute=3), track("Order Completed", user_id="u1", minute=4))
    events_process_pending()
    assert Profile.objects.count() == 1
    profile = profile_of("user_id", "u1")
    assert sorted(profile.events.values_list("name", flat=True)) == [
        "",
        "Cart Viewed",
        "Order Completed",
        "Product Viewed",
    ]
    assert not Event.objects.filter(processed_at__isnull=True).exists()


def test_alias_with_anonymous_previous_id_merges(source):
    ingest(source, track("Signed Up", anon="anon-9"), track("Logged In", user_id="u9"))
    events_process_pending()
    assert Profile.objects.count() == 2
    ingest(source, {"type": "alias", "previousId": "anon-9", "userId": "u9"})
    events_process_pending()
    assert Profile.objects.count() == 1
    assert profile_of("anonymous_id", "anon-9") == profile_of("user_id", "u9")
    assert Event.objects.filter(profile=profile_of("user_id", "u9")).count() == 3


@pytest.mark.parametrize("same_batch", [True, False])
def test_alias_with_user_id_previous_id_merges_two_known_users(source, same_batch):
    ingest(source, identify("old-login", minute=1, plan="free"), track("Viewed", user_id="old-login"))
    if not same_batch:
        events_process_pending()
    ingest(
        source,
        identify("new-login", minute=2, name="Ann"),
        {"type": "alias", "previousId": "old-login", "userId": "new-login", "timestamp": at(3)},
    )
    events_process_pending()
    assert Profile.objects.count() == 1
    profile = profile_of("user_id", "new-login")
    assert profile == profile_of("user_id", "old-login")
    assert profile.traits == {"plan": "free", "name": "Ann"}
    assert profile.events.count() == 4
    assert not IdentityConflict.objects.exists()
    assert not Identity.objects.filter(kind="anonymous_id").exists()


def test_email_in_traits_joins_profiles_whatever_its_case(source):
    ingest(source, identify(anon="a1", email="Bob@Example.COM"), track("Viewed", anon="a1"))
    events_process_pending()
    ingest(
        source,
        track("Checkout Started", anon="a2", context={"traits": {"email": "bob@example.com "}}),
    )
    events_process_pending()
    assert Profile.objects.count() == 1
    assert profile_of("email", "bob@example.com").events.count() == 3


def test_phone_is_normalised_to_e164_using_the_country_hint(source):
    ingest(source, identify(anon="a1", phone="+49 30 1234567"))
    ingest(source, identify(anon="a2", phone="030 1234567", address={"country": "DE"}))
    ingest(source, identify(anon="a3", phone="030 1234567", address={"country": "Germany"}))
    events_process_pending()
    joined = profile_of("phone", "+49301234567")
    assert profile_of("anonymous_id", "a2") == joined
    # No guessing from a country name ("Ge…" would be Georgia): no phone key, a profile of its own.
    assert profile_of("anonymous_id", "a3") != joined
    assert set(joined.contact_points.values_list("channel", "address")) == {
        ("sms", "+49301234567"),
        ("whatsapp", "+49301234567"),
    }


def test_imported_order_with_a_known_email_lands_on_that_profile(source):
    """Order imports send an identify and an Order Completed track for a hashed anonymous buyer id,
    with the buyer's contact details in context.traits (tracking/imports/messages.py)."""
    ingest(source, identify("shopper-7", "web-anon", email="carla@example.com", minute=1))
    events_process_pending()
    amazon = Source.objects.create(name="amazon")
    context = {"library": {"name": "voyage-order-import"}, "traits": {"email": "CARLA@example.com"}}
    ingest(
        amazon,
        {
            "type": "identify",
            "anonymousId": "import-buyer-abc",
            "traits": {"email": "CARLA@example.com", "name": "Carla"},
            "context": context,
            "timestamp": at(30),
        },
        {
            "type": "track",
            "event": "Order Completed",
            "anonymousId": "import-buyer-abc",
            "properties": {"order_id": "111-222", "revenue": 30.0, "currency": "EUR"},
            "context": context,
            "timestamp": at(30),
        },
    )
    result = events_process_pending()
    assert result.new_profiles == 0
    profile = profile_of("user_id", "shopper-7")
    assert profile.events.filter(name="Order Completed", properties__order_id="111-222").exists()
    assert profile_of("anonymous_id", "import-buyer-abc") == profile
    assert profile.traits["name"] == "Carla"


def test_merge_keeps_every_event_trait_consent_and_contact_point(source):
    ingest(
        source,
        identify(anon="a1", minute=5, email="dora@example.com", plan="pro", color="red"),
        track("Viewed", anon="a1", minute=6),
    )
    ingest(source, identify("u1", minute=1, plan="free", phone="+14155550100"), track("Paid", user_id="u1"))
    events_process_pending()
    anonymous, known = profile_of("anonymous_id", "a1"), profile_of("user_id", "u1")
    consent_set(
        profile=known, channel="email", granted=True, method="form", at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    consent_set(
        profile=anonymous, channel="email", granted=False, method="link", at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    consent_set(
        profile=anonymous, channel="sms", granted=True, method="keyword", at=datetime(2026, 1, 5, tzinfo=UTC)
    )
    ContactPoint.objects.create(profile=known, channel="email", address="dora@work.example")

    ingest(source, identify("u1", "a1", minute=7))
    events_process_pending()

    assert Profile.objects.count() == 1
    profile = Profile.objects.get()
    assert profile.events.count() == 5
    # Newest value per trait by event time: plan "pro" (10:05) beats "free" (10:01).
    assert profile.traits == {
        "email": "dora@example.com",
        "plan": "pro",
        "color": "red",
        "phone": "+14155550100",
    }
    consents = {c.channel: (c.status, c.method) for c in Consent.objects.filter(profile=profile)}
    assert consents == {"email": ("withdrawn", "link"), "sms": ("granted", "keyword")}
    assert profile.consent_changes.count() == 3
    points = set(profile.contact_points.values_list("channel", "address"))
    assert points >= {("email", "dora@example.com"), ("email", "dora@work.example"), ("sms", "+14155550100")}
    assert profile.contact_points.filter(channel="email", is_primary=True).count() == 1
    merged_id = ({anonymous.pk, known.pk} - {profile.pk}).pop()
    assert ProfileMerge.objects.get(merged_profile_id=merged_id).survivor == profile
    assert profile_resolve(profile_id=merged_id) == profile


def test_newest_trait_wins_by_event_time_not_by_arrival(source):
    ingest(source, identify("u1", minute=30, plan="free"))
    events_process_pending()
    ingest(source, identify("u1", minute=10, plan="pro", name="Eve"))
    events_process_pending()
    assert profile_of("user_id", "u1").traits == {"plan": "free", "name": "Eve"}


@pytest.mark.parametrize("same_batch", [True, False])
def test_two_user_ids_are_never_merged_and_the_conflict_is_recorded(source, same_batch):
    ingest(source, identify("u1", "shared-device", email="fam@example.com"))
    if not same_batch:
        events_process_pending()
    ingest(source, identify("u2", "shared-device"), identify("u3", email="fam@example.com"))
    events_process_pending()
    u1, u2, u3 = (profile_of("user_id", u) for u in ("u1", "u2", "u3"))
    assert len({u1.pk, u2.pk, u3.pk}) == 3
    assert profile_of("anonymous_id", "shared-device") == u1
    assert profile_of("email", "fam@example.com") == u1
    conflicts = {(c.profile_id, c.other_profile_id, c.kind, c.value) for c in IdentityConflict.objects.all()}
    assert conflicts == {
        (u2.pk, u1.pk, "anonymous_id", "shared-device"),
        (u3.pk, u1.pk, "email", "fam@example.com"),
    }
    assert all(c.event_id for c in IdentityConflict.objects.all())
    # Each event stays with the user id it names.
    assert u2.events.count() == 1 and u3.events.count() == 1


def test_an_aliased_profile_answers_to_both_user_ids_without_conflict(source):
    ingest(source, identify("old"))
    events_process_pending()
    ingest(source, {"type": "alias", "previousId": "old", "userId": "new"})
    events_process_pending()
    ingest(source, identify("old", "a1"), identify("new", "a1"))
    events_process_pending()
    assert Profile.objects.count() == 1
    assert not IdentityConflict.objects.exists()


def _story() -> list[dict]:
    """People arriving anonymously, identifying, aliasing, sharing emails and devices, out of order."""
    messages = [
        track("Viewed", anon="a1", minute=1, context={"timezone": "Europe/Berlin", "locale": "de-DE"}),
        identify(anon="a1", minute=2, email="p1@example.com", plan="free"),
        track("Viewed", anon="a2", minute=3, context={"timezone": "Asia/Tokyo"}),
        identify("u1", "a2", minute=20, plan="pro"),
        track("Carted", anon="a3", minute=4, context={"traits": {"email": "P1@example.com"}}),
        identify("u1", "a1", minute=5, plan="trial", name="Pia"),
        identify("u2", "a3", minute=6),  # a3 is u1's by now: conflict
        track("Viewed", anon="a4", minute=7, context={"timezone": "America/New_York"}),
        {"type": "alias", "previousId": "a4", "userId": "u4", "timestamp": at(8)},
        identify("u4", minute=9, phone="+4915112345678", country="DE"),
        identify(anon="a5", minute=10, phone="015112345678", address={"country": "DE"}),
        track("Viewed", user_id="u1", minute=0, context={"timezone": "Europe/Paris"}),  # late, old
        {"type": "alias", "previousId": "u2", "userId": "u5", "timestamp": at(11)},
        identify("u5", "a6", minute=12, email="p5@example.com"),
        track("Bought", anon="a6", minute=13),
    ]
    for index, message in enumerate(messages):
        message["messageId"] = f"story-{index}"
    return messages


def _snapshot() -> dict:
    """The final state, keyed by each profile's identities (ids differ between runs, people do not)."""
    state = {}
    for profile in Profile.objects.prefetch_related("identities", "contact_points", "events"):
        keys = tuple(sorted((i.kind, i.value) for i in profile.identities.all()))
        state[keys] = {
            "events": sorted(e.message_id for e in profile.events.all()),
            "traits": orjson.dumps(profile.traits, option=orjson.OPT_SORT_KEYS),
            "trait_times": orjson.dumps(profile.trait_updated_at, option=orjson.OPT_SORT_KEYS),
            "locality": (profile.timezone, profile.locale, profile.country),
            "seen": (profile.first_seen_at, profile.last_seen_at),
            "points": sorted((c.channel, c.address, c.is_primary) for c in profile.contact_points.all()),
        }
    state["conflicts"] = sorted(
        (c.kind, c.value, c.event.message_id) for c in IdentityConflict.objects.select_related("event")
    )
    state["unprocessed"] = Event.objects.filter(processed_at__isnull=True).count()
    return state


def _reset() -> None:
    Event.objects.all().delete()
    Profile.objects.all().delete()
    ProfileMerge.objects.all().delete()


def test_merges_are_deterministic_whatever_the_batch_split(source, settings):
    story = _story()
    runs = {}
    for label, ingest_chunk, process_size in [
        ("one batch", len(story), 5000),
        ("one at a time", 1, 1),
        ("ingested together, processed in threes", len(story), 3),
        ("chunks of four, processed in twos", 4, 2),
    ]:
        _reset()
        settings.TRACKING_PROCESS_BATCH_SIZE = process_size
        for start in range(0, len(story), ingest_chunk):
            ingest(source, *story[start : start + ingest_chunk])
            if ingest_chunk < len(story):
                events_process_pending()
        events_process_pending()
        runs[label] = _snapshot()
    reference = runs.pop("one batch")
    for label, state in runs.items():
        assert state == reference, label
    # And the reference itself says what the story means.
    u1 = next(v for k, v in reference.items() if isinstance(k, tuple) and ("user_id", "u1") in k)
    assert orjson.loads(u1["traits"]) == {"email": "p1@example.com", "plan": "pro", "name": "Pia"}
    assert u1["locality"] == ("Asia/Tokyo", "de-DE", "DE")
    assert len(u1["events"]) == 7
    u2_keys = next(k for k in reference if isinstance(k, tuple) and ("user_id", "u2") in k)
    assert ("user_id", "u5") in u2_keys and ("email", "p5@example.com") in u2_keys
    u4_keys = next(k for k in reference if isinstance(k, tuple) and ("user_id", "u4") in k)
    assert ("anonymous_id", "a5") in u4_keys and ("phone", "+4915112345678") in u4_keys
    assert reference["conflicts"] == [("anonymous_id", "a3", "story-6")]
    assert reference["unprocessed"] == 0


def test_replaying_the_same_events_is_a_no_op(source):
    story = _story()
    ingest(source, *story)
    events_process_pending()
    before = _snapshot()
    counts = (Event.objects.count(), Profile.objects.count(), Identity.objects.count())
    result = ingest_messages(story, source=source)
    assert result.duplicates == len(story)
    assert events_process_pending().events == 0
    assert _snapshot() == before
    assert (Event.objects.count(), Profile.objects.count(), Identity.objects.count()) == counts


def test_locality_comes_from_traits_else_from_the_latest_events_context(source):
    ingest(
        source,
        track("A", anon="a1", minute=20, context={"timezone": "Asia/Tokyo", "locale": "ja-JP"}),
        track("B", anon="a1", minute=30, context={"ip": "203.0.113.9"}),  # says nothing: erases nothing
    )
    events_process_pending()
    profile = profile_of("anonymous_id", "a1")
    assert (profile.timezone, profile.locale, profile.country) == ("Asia/Tokyo", "ja-JP", "JP")

    # A late event from an offline device is older than what the profile knows: it does not win.
    ingest(source, track("C", anon="a1", minute=10, context={"timezone": "Europe/Berlin"}))
    events_process_pending()
    profile.refresh_from_db()
    assert profile.timezone == "Asia/Tokyo"

    ingest(source, track("D", anon="a1", minute=40, context={"timezone": "America/Sao_Paulo"}))
    events_process_pending()
    profile.refresh_from_db()
    assert profile.timezone == "America/Sao_Paulo"

    # Traits beat context, even older traits; a bad zone in traits is ignored.
    ingest(source, identify(anon="a1", minute=5, timezone="Europe/London", country="gb", locale="Mars/Base"))
    events_process_pending()
    profile.refresh_from_db()
    assert (profile.timezone, profile.country) == ("Europe/London", "GB")


def test_locality_after_a_merge_follows_the_newest_event_of_either_profile(source):
    ingest(source, track("A", user_id="u1", minute=1, context={"timezone": "Europe/Berlin"}))
    ingest(source, track("B", anon="a1", minute=50, context={"timezone": "America/Chicago"}))
    events_process_pending()
    ingest(source, identify("u1", "a1", minute=2))
    events_process_pending()
    assert Profile.objects.get().timezone == "America/Chicago"


def test_a_very_large_batch_is_resolved_with_a_bounded_number_of_queries(
    source, settings, django_assert_max_num_queries
):
    settings.TRACKING_PROCESS_BATCH_SIZE = 5000
    messages = []
    for person in range(1500):
        anon = f"anon-{person}"
        messages.append(track("Viewed", anon=anon, minute=person % 60))
        messages.append(track("Carted", anon=anon, minute=person % 60))
        if person % 3 == 0:
            messages.append(identify(f"user-{person}", anon, email=f"p{person}@example.com"))
    for start in range(0, len(messages), 2500):
        ingest(source, *messages[start : start + 2500])
    with django_assert_max_num_queries(40):
        result = events_process_pending()
    assert result.events == len(messages)
    assert result.new_profiles == 1500
    assert not Event.objects.filter(processed_at__isnull=True).exists()
    assert Profile.objects.count() == 1500
    assert profile_of("email", "p3@example.com") == profile_of("anonymous_id", "anon-3")
