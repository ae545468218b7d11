"""Messages follow their profile: merged into the survivor, deleted with an erased profile."""

import pytest

from channels.models import Message, MessageEvent
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make
from tracking.services.profiles import profile_erase, profile_merge

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


def test_merged_profiles_messages_move_to_the_survivor():
    template_make()
    survivor, merged = profile_make(), profile_make()
    message = message_enqueue(
        profile_id=merged.pk, channel="email", template_slug="welcome", idempotency_key="m"
    )
    profile_merge(survivor=survivor, merged=merged, reason="test")
    message.refresh_from_db()
    assert message.profile_id == survivor.pk


def test_erased_profiles_messages_are_deleted():
    template_make()
    profile = profile_make()
    message_enqueue(profile_id=profile.pk, channel="email", template_slug="welcome", idempotency_key="e")
    profile_erase(profile=profile)
    assert not Message.objects.exists() and not MessageEvent.objects.exists()


def test_enqueue_for_a_merged_profile_id_lands_on_the_survivor():
    template_make()
    survivor, merged = profile_make(), profile_make()
    merged_id = merged.pk
    profile_merge(survivor=survivor, merged=merged, reason="test")
    message = message_enqueue(
        profile_id=merged_id, channel="email", template_slug="welcome", idempotency_key="x"
    )
    assert message.profile_id == survivor.pk
