"""A row a claimed-work loop cannot handle never blocks the rows behind it: it is set aside with its
error (core.setaside), shown to operators, retryable after a fix; transient errors are not the
row's fault and still fail the task. One test per loop: events, outbox, partner deliveries, journey
runs, report folds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from channels.models import Message, MessageStatus
from core.models import SetAside, SetAsideState
from core.setaside import error_describe, set_aside_discard, set_aside_retry
from tracking.ingest import ingest_messages
from tracking.models import Event, Profile
from tracking.processing import events_process_pending

pytest_plugins = ["tests.test_channel_support"]


def _track(source, user_id: str, at: str = "2026-03-01T10:00:00Z") -> None:
    result = ingest_messages(
        [
            {
                "type": "track",
                "userId": user_id,
                "event": "Viewed",
                "timestamp": at,
                "messageId": f"m-{user_id}",
            }
        ],
        source=source,
    )
    assert not result.rejected, result.rejected


def _raw_event(source, user_id: str, timestamp: str) -> int:
    """A pending event written straight into the table, the value stored as PostgreSQL reads it."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tracking_event (source_id, message_id, type, name, user_id, anonymous_id, group_id, "
            "previous_id, properties, traits, context, received_at, timestamp) VALUES "
            "(%s, %s, 'track', 'E', %s, '', '', '', '{}', '{}', '{}', now(), %s::timestamptz) RETURNING id",
            [source.pk, f"raw-{user_id}-{timestamp}", user_id, timestamp],
        )
        return cur.fetchone()[0]


def _poison_event(source, *, timestamp: str = "0001-12-31 10:00:00 BC") -> int:
    """An event as PostgreSQL stores `"timestamp":"0001-01-01T00:00:00+14:00"`: a value Python's
    datetime cannot hold, so reading the row back raises DataError."""
    return _raw_event(source, "attacker", timestamp)


def _event_column(pk: int, column: str):
    """One column of an event (the poison one's timestamp cannot be loaded into a model)."""
    return Event.objects.filter(pk=pk).values_list(column, flat=True).get()


def _set_aside(queue: str) -> list[SetAside]:
    return list(SetAside.objects.filter(queue=queue, state=SetAsideState.SET_ASIDE).order_by("row_id"))


# --- events ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_poison_event_is_set_aside_and_every_event_around_it_is_processed(source, settings):
    settings.TRACKING_PROCESS_BATCH_SIZE = 500
    _track(source, "before-1")
    _track(source, "before-2")
    bad = _poison_event(source)
    bad_future = _poison_event(source, timestamp="10000-01-01 00:00:00+00")
    for i in range(5):
        _track(source, f"after-{i}")

    result = events_process_pending()

    assert result.events == 7
    good = Event.objects.exclude(pk__in=[bad, bad_future])
    assert good.count() == 7 and not good.filter(processed_at__isnull=True).exists()
    assert good.filter(profile__isnull=True).count() == 0
    assert Profile.objects.count() == 7
    records = _set_aside("events")
    assert [(r.model, r.row_id) for r in records] == [("tracking.Event", bad), ("tracking.Event", bad_future)]
    assert records[0].error_class.endswith("DataError") and records[0].attempts == 1
    assert "traceback" not in records[0].error_message.lower() and records[0].traceback
    assert Event.objects.filter(pk__in=[bad, bad_future], set_aside_at__isnull=False).count() == 2
    # Nothing left to claim: the next pass neither fails nor sets anything aside again.
    assert events_process_pending().events == 0
    assert SetAside.objects.get(row_id=bad).attempts == 1


@pytest.mark.django_db
def test_retry_before_the_fix_sets_the_event_aside_again_and_after_the_fix_processes_it(source):
    bad = _poison_event(source)
    _track(source, "good")
    events_process_pending()
    [record] = _set_aside("events")

    assert set_aside_retry(ids=[record.pk], by="otto") == 1
    assert _event_column(bad, "set_aside_at") is None
    events_process_pending()
    record.refresh_from_db()
    assert (record.state, record.attempts) == (SetAsideState.SET_ASIDE, 2)

    # The fix: the timestamp is clamped to something Python and the reports can read.
    Event.objects.filter(pk=bad).update(timestamp=datetime(2026, 3, 1, tzinfo=UTC))
    set_aside_retry(ids=[record.pk], by="otto")
    assert events_process_pending().events == 1
    event = Event.objects.get(pk=bad)
    assert event.processed_at is not None and event.profile.identities.get().value == "attacker"
    record.refresh_from_db()
    assert (record.state, record.resolved_by) == (SetAsideState.RETRIED, "otto")


@pytest.mark.django_db
def test_discarded_rows_stay_out_of_the_queue(source):
    bad = _poison_event(source)
    events_process_pending()
    [record] = _set_aside("events")
    assert set_aside_discard(ids=[record.pk], by="otto") == 1
    record.refresh_from_db()
    assert record.state == SetAsideState.DISCARDED
    assert events_process_pending().events == 0
    assert _event_column(bad, "processed_at") is None


@pytest.mark.django_db(transaction=True)
def test_a_transient_database_error_fails_the_pass_and_sets_nothing_aside(source):
    """A lock timeout is the database's trouble, not the row's: the task fails (and is retried by the
    next tick) with every event still pending and none set aside."""
    import psycopg
    from django.conf import settings

    # Stored as ingestion stores them, not processed yet (a transactional test would process them
    # on commit of the ingest).
    for user in ("u1", "u2"):
        _raw_event(source, user, "2026-03-01 10:00:00+00")
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"]
    )
    try:
        other.execute("BEGIN")
        other.execute("LOCK TABLE tracking_identity IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = '300ms'")
        with pytest.raises(OperationalError):
            events_process_pending()
    finally:
        other.rollback()
        other.close()
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = 0")
    assert SetAside.objects.count() == 0
    assert Event.objects.filter(processed_at__isnull=True, set_aside_at__isnull=True).count() == 2
    assert events_process_pending().events == 2  # the lock is gone: the same events go through


def test_error_texts_keep_personal_data_and_secrets_out():
    try:
        raise ValueError(
            "cannot send to ana.lopez@example.com (+34 612 345 678) via https://user:hunter2@api.example\n"
            "DETAIL: Key (address)=(ana.lopez@example.com) already exists; token abc123"
        )
    except ValueError as exc:
        name, message, tb = error_describe(exc)
    assert name == "builtins.ValueError"
    for leaked in ("ana.lopez", "612", "hunter2", "DETAIL"):
        assert leaked not in message
    assert "ana.lopez" not in tb and "hunter2" not in tb
    assert "<email>" in message and "<number>" in message


# --- outbox --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_message_that_cannot_be_rendered_is_set_aside_and_the_others_are_sent(fake_twilio):
    from channels.dispatch import dispatch_until_idle
    from channels.services import message_enqueue
    from tests.test_channel_support import profile_make, template_make

    template_make(slug="hello", channel="sms")
    messages = [
        message_enqueue(
            profile_id=profile_make(phone=f"+1555{i:07d}").pk,
            channel="sms",
            template_slug="hello",
            data={"code": i},
            idempotency_key=f"k{i}",
        )
        for i in range(6)
    ]
    poison = messages[2]
    # A caller stored data that is not an object: rendering it raises (not a RenderError).
    Message.objects.filter(pk=poison.pk).update(data=["not", "an", "object"])

    stats = dispatch_until_idle()

    assert stats.sent == 5, list(Message.objects.values_list("status", "error"))
    assert len(fake_twilio.messages) == 5 and set(fake_twilio.count_by_to().values()) == {1}
    [record] = _set_aside("outbox")
    assert (record.model, record.row_id) == ("channels.Message", poison.pk)
    assert record.error_class == "builtins.AttributeError"
    poison.refresh_from_db()
    assert poison.status == MessageStatus.PENDING and poison.set_aside_at is not None
    assert not poison.attempts.exists()

    Message.objects.filter(pk=poison.pk).update(data={"code": 2})  # the fix
    set_aside_retry(ids=[record.pk])
    assert dispatch_until_idle().sent == 1
    poison.refresh_from_db()
    assert poison.status == MessageStatus.SENT
    assert len(fake_twilio.messages) == 6 and set(fake_twilio.count_by_to().values()) == {1}


@pytest.mark.django_db
def test_a_result_that_cannot_be_recorded_sets_its_message_aside_and_the_others_are_recorded(fake_twilio):
    from channels.dispatch import dispatch_until_idle, leases_sweep
    from channels.models import MessageAttempt, Reason
    from channels.services import message_enqueue
    from tests.test_channel_support import profile_make, template_make

    template_make(slug="hello", channel="sms")
    for i in range(5):
        message_enqueue(
            profile_id=profile_make(phone=f"+1555{i:07d}").pk,
            channel="sms",
            template_slug="hello",
            data={"code": i},
            idempotency_key=f"r{i}",
        )
    fake_twilio.nul_sid_next()  # the first answer's sid cannot be stored

    assert dispatch_until_idle().sent == 4
    assert len(fake_twilio.messages) == 5
    [record] = _set_aside("outbox")
    poison = Message.objects.get(pk=record.row_id)
    assert poison.address == fake_twilio.messages[0]["To"]
    assert record.error_class.endswith("DataError")
    # Sent, but its result is not recorded: still `sending` with its attempt open, and left alone
    # by the lease sweep while it is set aside.
    assert poison.status == MessageStatus.SENDING and poison.set_aside_at is not None
    assert MessageAttempt.objects.filter(message=poison, finished_at__isnull=True).count() == 1
    Message.objects.filter(pk=poison.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert leases_sweep() == 0

    # Retry hands it to the sweep: in doubt (Twilio cannot be asked), failed at most once by default.
    set_aside_retry(ids=[record.pk])
    assert leases_sweep() == 1
    poison.refresh_from_db()
    assert (poison.status, poison.skip_reason) == (MessageStatus.FAILED, Reason.IN_DOUBT)
    assert dispatch_until_idle().sent == 0 and len(fake_twilio.messages) == 5
    assert set(fake_twilio.count_by_to().values()) == {1}


# --- partner deliveries ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_delivery_that_cannot_be_read_is_set_aside_and_the_others_are_delivered(settings):
    from channels.partner.models import Delivery, DeliveryStatus
    from channels.partner.services import deliveries_dispatch, partner_event_publish
    from tests.fakes.partner import endpoint_subscribe, fake_partner

    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
    with fake_partner() as fake:
        endpoint_subscribe(fake)
        for i in range(4):
            partner_event_publish(
                event_type="message.sent", payload={"message_id": i}, idempotency_key=f"d{i}"
            )
        poison = Delivery.objects.order_by("pk")[1]
        with connection.cursor() as cur:
            cur.execute("UPDATE partner_delivery SET created_at = '10000-01-01' WHERE id = %s", [poison.pk])

        deliveries_dispatch()

        assert sorted(r.payload["data"]["message_id"] for r in fake.wait_for(3)) == [0, 2, 3]
        assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 3
        [record] = _set_aside("partner_deliveries")
        assert (record.model, record.row_id) == ("partner.Delivery", poison.pk)
        assert record.error_class.endswith("DataError")

        Delivery.objects.filter(pk=poison.pk).update(created_at=timezone.now())  # the fix
        set_aside_retry(ids=[record.pk])
        deliveries_dispatch()
        assert sorted(r.payload["data"]["message_id"] for r in fake.wait_for(4)) == [0, 1, 2, 3]
        assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 4


# --- journey runs --------------------------------------------------------------------------------

T0 = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_run_the_engine_cannot_advance_is_set_aside_and_the_others_advance():
    from journeys.models import Run, RunStatus
    from journeys.testing import event_emit, journey_live, profile_add, run_due

    journey_live(
        {
            "slug": "wait",
            "name": "Wait a day",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "wait", "transitions": [{"to": "done", "after": {"days": 1}}]},
                {"key": "done", "exit": True},
            ],
        }
    )
    profiles = [profile_add() for _ in range(5)]
    for p in profiles:
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    assert Run.objects.filter(stage_key="wait").count() == 5
    poison = Run.objects.get(profile=profiles[3])
    Run.objects.filter(pk=poison.pk).update(stage_key="a-stage-that-is-gone")

    run_due(T0 + timedelta(days=2))

    assert Run.objects.filter(status=RunStatus.COMPLETED).count() == 4
    [record] = _set_aside("journey_runs")
    assert (record.model, record.row_id, record.error_class) == (
        "journeys.Run",
        poison.pk,
        "builtins.KeyError",
    )
    poison.refresh_from_db()
    assert poison.status == RunStatus.ACTIVE and poison.set_aside_at is not None

    Run.objects.filter(pk=poison.pk).update(stage_key="wait")  # the fix
    set_aside_retry(ids=[record.pk])
    run_due(T0 + timedelta(days=2))
    poison.refresh_from_db()
    assert poison.status == RunStatus.COMPLETED


# --- report folds --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_row_the_report_fold_cannot_fold_is_set_aside_and_the_others_are_folded():
    from django.db.models import Sum

    from journeys.reports.fold import rollups_fold_until_idle
    from journeys.reports.models import HourlyRollup

    profile = Profile.objects.create(timezone="Pacific/Kiritimati")  # UTC+14
    messages = [
        Message.objects.create(
            profile=profile,
            channel="email",
            idempotency_key=f"f{i}",
            campaign_kind="journey",
            campaign_id=7,
            due_at=timezone.now(),
        )
        for i in range(5)
    ]
    poison = messages[1]
    # Stored fine, but its local hour (UTC+14) is past PostgreSQL's last timestamp: folding it raises.
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE channels_message SET created_at = '294276-12-31 23:00:00+00' WHERE id = %s", [poison.pk]
        )

    rollups_fold_until_idle()

    assert HourlyRollup.objects.aggregate(n=Sum("targeted"))["n"] == 4
    [record] = _set_aside("report_folds")
    assert (record.model, record.row_id) == ("channels.Message", poison.pk)
    assert record.error_class.endswith("DataError") and "out of range" in record.error_message
    rollups_fold_until_idle()  # the cursor has passed it: it is not folded, nor set aside again
    assert SetAside.objects.get().attempts == 1

    Message.objects.filter(pk=poison.pk).update(created_at=timezone.now())  # the fix
    set_aside_retry(ids=[record.pk])
    rollups_fold_until_idle()
    assert HourlyRollup.objects.aggregate(n=Sum("targeted"))["n"] == 5
    rollups_fold_until_idle()  # folded once, not again
    assert HourlyRollup.objects.aggregate(n=Sum("targeted"))["n"] == 5


@pytest.mark.django_db
def test_a_conversion_the_fold_cannot_fold_sets_its_profile_aside_and_the_others_are_folded():
    from journeys.models import Run
    from journeys.reports.fold import profiles_mark_pending, rollups_fold_until_idle
    from journeys.reports.models import ConversionFact, PendingProfile
    from journeys.testing import event_emit, journey_live, profile_add, run_due

    journey_live(
        {
            "slug": "buy",
            "name": "Buy",
            "entry": {"event": "Signed Up"},
            "stages": [{"key": "wait", "transitions": [{"to": "done", "after": {"days": 30}}]},
                       {"key": "done", "exit": True}],
        }
    )  # fmt: skip
    profiles = [profile_add() for _ in range(3)]
    for p in profiles:
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    for p in profiles:
        order = event_emit(profile=p, name="Order Completed", at=T0, properties={"revenue": 50})
        Run.objects.filter(profile=p).update(converted_at=T0, conversion_event_id=order.pk)
    # One order's revenue came a million times too big: more than a report column holds.
    Event.objects.filter(name="Order Completed", profile=profiles[1]).update(properties={"revenue": 10**15})
    profiles_mark_pending(profile_ids=[p.pk for p in profiles])

    rollups_fold_until_idle()

    folded = set(ConversionFact.objects.values_list("source_id", flat=True))
    assert folded == set(Run.objects.exclude(profile=profiles[1]).values_list("pk", flat=True))
    [record] = _set_aside("report_folds")
    assert (record.model, record.row_id) == ("reports.PendingProfile", profiles[1].pk)
    assert record.error_class.endswith("DataError") and "overflow" in record.error_message
    assert not PendingProfile.objects.filter(profile_id=profiles[1].pk).exists()

    Event.objects.filter(name="Order Completed", profile=profiles[1]).update(
        properties={"revenue": 50}
    )  # the fix
    set_aside_retry(ids=[record.pk])
    rollups_fold_until_idle()
    assert ConversionFact.objects.count() == 3


# --- operators see it ----------------------------------------------------------------------------


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


@pytest.mark.django_db
def test_health_page_and_metrics_show_the_set_aside_row_and_the_processing_lag(admin_client, client, source):
    text = client.get("/metrics").content.decode()
    assert _metric(text, "voyage_set_aside_events") == 0
    for queue in ("outbox", "partner_deliveries", "journey_runs", "report_folds"):
        assert _metric(text, f"voyage_set_aside_{queue}") == 0
    assert admin_client.get("/admin/system-health/").context["state"] == "ok"

    _poison_event(source)
    events_process_pending()
    # An event received 20 minutes ago that no processor has looked at yet: the processing lag.
    _track(source, "late")
    Event.objects.filter(user_id="late").update(received_at=timezone.now() - timedelta(minutes=20))

    text = client.get("/metrics").content.decode()
    assert _metric(text, "voyage_set_aside_events") == 1
    assert _metric(text, "voyage_events_pending") == 1  # the set-aside event is not "pending"
    # PostgreSQL's now() is this test transaction's start, a little before the clock above read.
    assert 10 * 60 < _metric(text, "voyage_events_pending_oldest_seconds") <= 20 * 60 + 1

    page = admin_client.get("/admin/system-health/")
    assert page.context["state"] == "warn"
    assert "rows set aside from event processing" in page.context["sentence"]
    assert "not yet resolved to profiles: how long the oldest has waited" in page.context["sentence"]
    row = next(r for r in page.context["readings"] if r.gauge.name == "voyage_set_aside_events")
    assert (row.value, row.state) == (1, "warn")
    assert b"/admin/core/setaside/?state__exact=set_aside&amp;queue__exact=events" in page.content


@pytest.mark.django_db
def test_the_admin_lists_the_row_with_its_error_and_retries_it(admin_client, source):
    bad = _poison_event(source)
    events_process_pending()
    [record] = _set_aside("events")
    page = admin_client.get("/admin/core/setaside/?state__exact=set_aside")
    assert page.status_code == 200
    html = page.content.decode()
    assert "DataError" in html and "Event processing" in html
    # The event's own admin page cannot open (its timestamp cannot be read): said, not linked.
    assert f"/admin/tracking/event/{bad}/change/" not in html and "unreadable" in html
    detail = admin_client.get(f"/admin/core/setaside/{record.pk}/change/").content.decode()
    assert "processing.py" in detail  # the short traceback names where it failed

    r = admin_client.post(
        "/admin/core/setaside/?state__exact=set_aside",
        {"action": "retry", "_selected_action": [record.pk]},
        follow=True,
    )
    assert "back in their queues" in r.content.decode()
    record.refresh_from_db()
    assert record.state == SetAsideState.RETRIED
    assert _event_column(bad, "set_aside_at") is None
    Event.objects.filter(pk=bad).update(timestamp=datetime(2026, 3, 1, tzinfo=UTC))
    html = admin_client.get("/admin/core/setaside/?state__exact=retried").content.decode()
    assert f'href="/admin/tracking/event/{bad}/change/"' in html  # readable now: linked
