"""What the on-site decide tests share: a site, an active message with one arm, a fresh cache."""

from __future__ import annotations

from typing import Any

import pytest

from journeys.onsite.models import Message, Status, Variant
from journeys.onsite.services import messages_cache_clear
from tracking.models import Source

PROFILE_HEADLINE = "Hello {{ profile.first_name | default: 'there' }}"


@pytest.fixture(autouse=True)
def _fresh_site_messages():
    # Each process keeps the sites' compiled messages a few seconds; a test starts and ends without.
    messages_cache_clear()
    yield
    messages_cache_clear()


def onsite_site(*, write_key: str, name: str = "shop-web") -> Source:
    return Source.objects.create(name=name, write_key=write_key, allowed_origins=["https://shop.example.com"])


def onsite_message(site: Source, name: str, *, headline: str = PROFILE_HEADLINE, **fields: Any) -> Message:
    fields.setdefault("status", Status.ACTIVE)
    message = Message.objects.create(name=name, source=site, **fields)
    Variant.objects.create(message=message, arm="A", headline=headline)
    messages_cache_clear()
    return message
