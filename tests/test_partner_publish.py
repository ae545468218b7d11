"""Publishing fans an event out to subscribed endpoints as durable rows, once per idempotency key."""

import pytest
from django.db import transaction
from django.utils import timezone

from channels.models import Message
from channels.partner.models import Delivery
from channels.partner.registry import event_types_list, event_types_register
from channels.partner.services import endpoint_call, endpoint_create, partner_event_publish
from channels.signals import message_status_changed
from tracking.models import Profile
from tracking.services.profiles import profile_erase, profile_merge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True


def _endpoint(event_types, **kwargs):
    return endpoint_create(url="http://127.0.0.1:9/hook", event_types=event_types, **kwargs)[0]


def test_publish_reaches_only_enabled_subscribed_endpoints():
    delivered = _endpoint(["message.delivered"])
    everything = _endpoint(["*"])
    _endpoint(["message.opened"])
    _endpoint(["message.delivered"], enabled=False)
    count = partner_event_publish(
        event_type="message.delivered", payload={"message_id": 1}, idempotency_key="k"
    )
    assert count == 2
    assert set(Delivery.objects.values_list("endpoint_id", flat=True)) == {delivered.pk, everything.pk}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_publishing_the_same_key_again_creates_nothing():
    _endpoint(["*"])
    _endpoint(["*"])
    for _ in range(3):
        assert partner_event_publish(event_type="message.sent", payload={"a": 1}, idempotency_key="same") == 2
    assert Delivery.objects.count() == 2
    # Each (event, endpoint) pair has its own webhook-id, the key partners dedupe on.
    assert len(set(Delivery.objects.values_list("webhook_id", flat=True))) == 2
    partner_event_publish(event_type="message.sent", payload={"a": 1}, idempotency_key="other")
    assert Delivery.objects.count() == 4


def test_rows_belong_to_the_callers_transaction():
    _endpoint(["*"])
    with pytest.raises(RuntimeError), transaction.atomic():
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="rolled-back")
        raise RuntimeError("the caller's decision is rolled back")
    assert not Delivery.objects.exists()


def test_a_commit_wakes_the_dispatcher(django_capture_on_commit_callbacks):
    _endpoint(["*"])
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="a")
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="b")
    assert len(callbacks) == 1  # one wake-up per transaction


def test_bad_payloads_are_refused_clearly():
    _endpoint(["*"])
    with pytest.raises(ValueError, match="payload must be a dict"):
        partner_event_publish(event_type="message.sent", payload=[1], idempotency_key="x")
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        partner_event_publish(event_type="message.sent", payload={"at": timezone}, idempotency_key="x")
    with pytest.raises(ValueError, match="idempotency_key is required"):
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="")


def test_endpoint_call_targets_one_endpoint_whatever_it_subscribes_to():
    target = _endpoint(["message.opened"])
    _endpoint(["*"])
    first = endpoint_call(endpoint_id=target.pk, payload={"run_id": 5}, idempotency_key="run5:step2")
    again = endpoint_call(endpoint_id=target.pk, payload={"run_id": 5}, idempotency_key="run5:step2")
    assert first == again
    delivery = Delivery.objects.get()
    assert (delivery.pk, delivery.endpoint_id, delivery.event_type) == (first, target.pk, "journey.webhook")
    with pytest.raises(ValueError, match="does not exist"):
        endpoint_call(endpoint_id=999_999, payload={}, idempotency_key="x")


def test_registry_offers_this_floors_types_and_accepts_others():
    names = [name for name, _ in event_types_list()]
    for name in ("message.sent", "message.delivered", "message.opened", "message.clicked", "message.failed"):
        assert name in names
    for name in ("profile.created", "profile.merged", "profile.erased"):
        assert name in names
    event_types_register([("journey.entered", "A profile entered a journey")])
    assert ("journey.entered", "A profile entered a journey") in event_types_list()
    with pytest.raises(ValueError):
        event_types_register([("*", "everything")])


def test_profile_merge_and_erasure_are_published_with_ids_only():
    _endpoint(["profile.merged", "profile.erased"])
    survivor = Profile.objects.create(traits={"email": "a@example.com"})
    merged = Profile.objects.create(traits={"email": "b@example.com"})
    survivor_id, merged_id = survivor.pk, merged.pk
    profile_merge(survivor=survivor, merged=merged, reason="same email")
    profile_erase(profile=survivor)
    events = {d.event_type: d.payload for d in Delivery.objects.all()}
    assert events == {
        "profile.merged": {"survivor_id": survivor_id, "merged_id": merged_id},
        "profile.erased": {"profile_id": survivor_id},
    }
    assert "example.com" not in str(events)


def test_message_status_changes_become_message_events():
    _endpoint(["message.delivered", "message.clicked", "message.failed"])
    profile = Profile.objects.create()
    message = Message.objects.create(
        profile=profile,
        channel="email",
        idempotency_key="m-1",
        due_at=timezone.now(),
        campaign_kind="journey",
        campaign_id=3,
        stage_key="welcome",
        variant="A",
    )
    message_status_changed.send(sender=Message, message_id=message.pk, status="sent", kind="sent")
    assert not Delivery.objects.exists()  # nobody subscribed to message.sent
    message_status_changed.send(sender=Message, message_id=message.pk, status="delivered", kind="delivered")
    message_status_changed.send(sender=Message, message_id=message.pk, status="clicked", kind="clicked")
    message_status_changed.send(sender=Message, message_id=message.pk, status="clicked", kind="clicked")
    message_status_changed.send(sender=Message, message_id=message.pk, status="bounced", kind="bounced")
    deliveries = {d.event_type: d.payload for d in Delivery.objects.all()}
    assert set(deliveries) == {"message.delivered", "message.clicked", "message.failed"}
    assert Delivery.objects.count() == 3  # the second click is not announced again
    assert deliveries["message.delivered"] == {
        "message_id": message.pk,
        "status": "delivered",
        "kind": "delivered",
        "profile_id": profile.pk,
        "channel": "email",
        "topic": "marketing",
        "campaign_kind": "journey",
        "campaign_id": 3,
        "stage_key": "welcome",
        "variant": "A",
        "provider": "",
    }


def test_new_profiles_from_processed_events_are_published_once(source, django_capture_on_commit_callbacks):
    from tracking.ingest import ingest_messages
    from tracking.processing import events_process_pending

    _endpoint(["profile.created"])
    with django_capture_on_commit_callbacks(execute=True):
        ingest_messages([{"type": "track", "userId": "u1", "event": "Viewed"}], source=source)
        events_process_pending()
    with django_capture_on_commit_callbacks(execute=True):
        ingest_messages([{"type": "track", "userId": "u1", "event": "Viewed again"}], source=source)
        events_process_pending()
    profile = Profile.objects.get()
    [delivery] = Delivery.objects.all()
    assert delivery.event_type == "profile.created"
    assert delivery.payload["profile_id"] == profile.pk
