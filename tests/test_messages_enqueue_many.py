"""messages_enqueue_many: a batch of messages into the outbox with a handful of queries, once per key."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from channels.models import Message, MessageEvent, MessageStatus, Reason
from channels.services import EnqueueError, EnqueueRequest, message_enqueue, messages_enqueue_many
from tests.test_channel_support import template_make
from tracking.models import Profile
from tracking.services.profiles import profile_merge

pytestmark = pytest.mark.django_db


def profiles(n: int, *, tz: str = "") -> list[Profile]:
    return Profile.objects.bulk_create([Profile(timezone=tz) for _ in range(n)])


def request(profile: Profile | int, key: str, **fields) -> EnqueueRequest:
    pid = profile if isinstance(profile, int) else profile.pk
    return EnqueueRequest(
        profile_id=pid,
        channel=fields.pop("channel", "email"),
        template_slug=fields.pop("template_slug", "welcome"),
        idempotency_key=key,
        **fields,
    )


def test_each_request_gets_its_row_and_a_queued_entry_in_order():
    template_make()
    people = profiles(3)
    done = messages_enqueue_many(
        [request(p, f"k{i}", campaign_kind="journey", campaign_id=7, stage_key="s", variant="a")
         for i, p in enumerate(people)]
    )  # fmt: skip
    assert [d.created for d in done] == [True, True, True]
    rows = Message.objects.in_bulk([d.message_id for d in done])
    assert [rows[d.message_id].profile_id for d in done] == [p.pk for p in people]
    assert [rows[d.message_id].idempotency_key for d in done] == ["k0", "k1", "k2"]
    assert {(m.status, m.campaign_kind, m.campaign_id, m.stage_key, m.variant) for m in rows.values()} == {
        (MessageStatus.PENDING, "journey", 7, "s", "a")
    }
    assert sorted(MessageEvent.objects.values_list("message_id", "kind")) == sorted(
        (d.message_id, "queued") for d in done
    )


def test_repeating_a_batch_returns_the_same_rows_and_writes_nothing():
    template_make()
    people = profiles(4)
    first = messages_enqueue_many([request(p, f"again-{p.pk}") for p in people])
    with CaptureQueriesContext(connection) as queries:
        second = messages_enqueue_many([request(p, f"again-{p.pk}") for p in people])
    assert [d.message_id for d in second] == [d.message_id for d in first]
    assert not any(d.created for d in second)
    assert Message.objects.count() == 4 and MessageEvent.objects.count() == 4
    # The insert finds every key stored (ON CONFLICT), so no timeline row is written and the stored
    # rows are read back in one look-up.
    sqls = [q["sql"] for q in queries]
    assert not any(s.startswith('INSERT INTO "channels_messageevent"') for s in sqls)
    assert sum(s.startswith('INSERT INTO "channels_message"') for s in sqls) == 1
    assert len(sqls) <= 4


def test_a_key_twice_in_one_batch_is_one_message():
    template_make()
    (p,) = profiles(1)
    done = messages_enqueue_many([request(p, "dup"), request(p, "other"), request(p, "dup")])
    assert done[0].message_id == done[2].message_id != done[1].message_id
    assert [d.created for d in done] == [True, True, False]
    assert Message.objects.filter(idempotency_key="dup").count() == 1
    assert MessageEvent.objects.filter(message_id=done[0].message_id).count() == 1


def test_a_missing_template_or_one_for_another_channel_is_a_recorded_skip():
    template_make()
    template_make("text-me", channel="sms")
    (p,) = profiles(1)
    done = messages_enqueue_many(
        [
            request(p, "missing", template_slug="nope"),
            request(p, "wrong-channel", template_slug="text-me"),
            request(p, "fine"),
        ]
    )
    assert [d.status for d in done] == [MessageStatus.SKIPPED, MessageStatus.SKIPPED, MessageStatus.PENDING]
    missing, wrong = Message.objects.get(pk=done[0].message_id), Message.objects.get(pk=done[1].message_id)
    assert missing.skip_reason == wrong.skip_reason == Reason.TEMPLATE_MISSING
    assert missing.error == "no template 'nope'" and missing.template_id is None
    assert wrong.error == "template 'text-me' is for sms, not email"
    event = MessageEvent.objects.get(message_id=done[0].message_id)
    assert (event.kind, event.data) == (
        "skipped",
        {"reason": "template_missing", "detail": "no template 'nope'"},
    )


def test_local_time_is_resolved_in_each_recipients_zone(settings):
    settings.CHANNELS_DEFAULT_TIME_ZONE = "Europe/Berlin"
    template_make()
    (tokyo,) = profiles(1, tz="Asia/Tokyo")
    (la,) = profiles(1, tz="America/Los_Angeles")
    (unknown,) = profiles(1)  # no zone: the channels default
    after = datetime(2031, 6, 10, 12, 0, tzinfo=UTC)
    done = messages_enqueue_many(
        [request(p, f"at-10-{p.pk}", send_at=after, local_time="10:00") for p in (tokyo, la, unknown)]
    )
    due = dict(
        Message.objects.filter(pk__in=[d.message_id for d in done]).values_list("profile_id", "due_at")
    )
    assert due[tokyo.pk] == datetime(2031, 6, 11, 1, 0, tzinfo=UTC)  # next day 10:00 JST
    assert due[la.pk] == datetime(2031, 6, 10, 17, 0, tzinfo=UTC)  # 10:00 PDT the same day
    assert due[unknown.pk] == datetime(2031, 6, 11, 8, 0, tzinfo=UTC)  # 10:00 CEST next day
    assert set(Message.objects.values_list("local_time", "send_at")) == {("10:00", after)}


def test_the_number_of_queries_does_not_grow_with_the_batch():
    template_make()
    template_make("text-me", channel="sms")

    def batch(prefix: str, n: int) -> list[EnqueueRequest]:
        people = profiles(n, tz="Asia/Tokyo")
        return [
            request(p, f"{prefix}-{i}", channel="sms" if i % 2 else "email",
                    template_slug="text-me" if i % 2 else "welcome", local_time="09:30")
            for i, p in enumerate(people)
        ]  # fmt: skip

    small, large = batch("small", 3), batch("large", 300)
    with CaptureQueriesContext(connection) as few:
        messages_enqueue_many(small)
    with CaptureQueriesContext(connection) as many:
        messages_enqueue_many(large)
    assert Message.objects.count() == 303
    # profiles, templates, messages (ON CONFLICT finds stored keys), timeline entries
    assert len(many) == len(few) == 4, [q["sql"][:80] for q in many]


def test_dispatch_is_woken_once_for_a_whole_batch(settings, django_capture_on_commit_callbacks):
    settings.CHANNELS_DISPATCH_ON_COMMIT = True
    template_make()
    with django_capture_on_commit_callbacks() as callbacks:
        messages_enqueue_many([request(p, f"wake-{p.pk}") for p in profiles(40)])
    # The status announcement and the dispatch wake-up: one of each, not one per message.
    assert len(callbacks) == 2


def test_a_batch_of_skips_does_not_wake_dispatch(settings, django_capture_on_commit_callbacks):
    settings.CHANNELS_DISPATCH_ON_COMMIT = True
    with django_capture_on_commit_callbacks() as callbacks:
        messages_enqueue_many([request(p, f"skip-{p.pk}", template_slug="nope") for p in profiles(5)])
    assert len(callbacks) == 1  # the skips are announced; there is nothing to dispatch


def test_bad_input_names_the_request_and_argument_and_writes_nothing():
    template_make()
    good, other = profiles(2)
    cases = [
        ([request(good, "a"), request(good, "")], "requests[1].idempotency_key: required"),
        ([request(good, "a"), request(good, "b", channel="fax")], "requests[1].channel: 'fax' is not one of"),
        ([request(good, "a"), request(good, "b", data=["x"])], "requests[1].data: must be an object"),
        ([request(good, "a"), request(999_999_999, "b")], "requests[1].profile_id: no profile 999999999"),
        ([request(other, "b", local_time="25:99")], "requests[0].local_time:"),
    ]
    for requests, expected in cases:
        with pytest.raises(EnqueueError) as caught:
            messages_enqueue_many(requests)
        assert str(caught.value).startswith(expected), caught.value
    assert not Message.objects.exists()


def test_an_existing_key_is_returned_before_the_rest_of_its_request_is_checked():
    template_make()
    (p,) = profiles(1)
    first = message_enqueue(profile_id=p.pk, channel="email", template_slug="welcome", idempotency_key="kept")
    (again,) = messages_enqueue_many([request(p, "kept", channel="fax")])
    assert (again.message_id, again.created) == (first.pk, False)


def test_message_enqueue_is_the_batch_with_one_request():
    template_make()
    (p,) = profiles(1)
    message = message_enqueue(
        profile_id=p.pk, channel="email", template_slug="welcome", idempotency_key="one"
    )
    assert isinstance(message, Message) and message.status == MessageStatus.PENDING
    (same,) = messages_enqueue_many([request(p, "one")])
    assert (same.message_id, same.created) == (message.pk, False)
    with pytest.raises(EnqueueError, match=r"^channel: 'fax' is not one of"):
        message_enqueue(profile_id=p.pk, channel="fax", template_slug="welcome", idempotency_key="two")


def test_a_merged_profile_id_lands_on_the_survivor():
    template_make()
    survivor, merged = profiles(2)
    merged_id = merged.pk
    profile_merge(survivor=survivor, merged=merged, reason="test")
    done = messages_enqueue_many([request(merged_id, "merged"), request(survivor, "survivor")])
    assert set(
        Message.objects.filter(pk__in=[d.message_id for d in done]).values_list("profile_id", flat=True)
    ) == {survivor.pk}


@pytest.mark.django_db(transaction=True)
def test_a_key_another_transaction_is_inserting_is_returned_not_duplicated():
    """The other transaction has not committed when this batch looks its keys up; the batch's insert
    waits for it (ON CONFLICT DO NOTHING) and returns the other transaction's row."""
    template_make()
    (p,) = profiles(1)
    inserted, release, errors = threading.Event(), threading.Event(), []
    outcome: dict = {}

    def other() -> None:
        try:
            with transaction.atomic():
                outcome["theirs"] = message_enqueue(
                    profile_id=p.pk, channel="email", template_slug="welcome", idempotency_key="race"
                ).pk
                inserted.set()
                release.wait(30)
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def ours() -> None:
        try:
            with transaction.atomic():
                outcome["ours"] = messages_enqueue_many([request(p, "race"), request(p, "mine")])
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=other)
    first.start()
    assert inserted.wait(30)
    second = threading.Thread(target=ours)
    second.start()
    deadline = time.time() + 30
    while time.time() < deadline and not _someone_waits_for_a_lock():
        time.sleep(0.05)
    release.set()
    first.join(30)
    second.join(30)
    assert not errors, errors
    race, mine = outcome["ours"]
    assert (race.message_id, race.created) == (outcome["theirs"], False)
    assert mine.created
    assert Message.objects.filter(idempotency_key="race").count() == 1
    assert MessageEvent.objects.filter(kind="queued").count() == 2  # one per message, none for the lost key


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
