"""Which event types any enabled partner endpoint subscribes to — cheap enough to ask per message.

Every message status change asks "is any enabled endpoint subscribed to message.X?" — thousands
of times a second while a campaign goes out, almost always with the same answer. Each process
keeps the set of subscribed event types; it asks the shared cache for the subscriptions' version
at most once per SUBSCRIPTIONS_CHECK_SECONDS, and reloads from the database when the version
moved (an endpoint saved, deleted, enabled or disabled anywhere) or after SUBSCRIPTIONS_MAX_AGE
(a safety net for writes that bypass the version, such as a raw UPDATE).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from channels.partner.models import Endpoint

SUBSCRIPTIONS_VERSION_KEY = "partner:subscriptions:version"
SUBSCRIPTIONS_CHECK_SECONDS = 1.0
SUBSCRIPTIONS_MAX_AGE = 30.0


class _Subscriptions:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.types: frozenset[str] | None = None
        self.version: Any = None
        self.checked = 0.0
        self.loaded = 0.0

    def forget(self) -> None:
        with self.lock:
            self.types = None

    def current(self) -> frozenset[str]:
        now = time.monotonic()
        types = self.types
        if types is not None and now - self.checked < SUBSCRIPTIONS_CHECK_SECONDS:
            return types
        version = cache.get(SUBSCRIPTIONS_VERSION_KEY)
        with self.lock:
            if (
                self.types is not None
                and version == self.version
                and now - self.loaded < SUBSCRIPTIONS_MAX_AGE
            ):
                self.checked = now
                return self.types
            loaded: set[str] = set()
            for event_types in Endpoint.objects.filter(enabled=True).values_list("event_types", flat=True):
                loaded.update(str(t) for t in event_types or [])
            self.types, self.version, self.checked, self.loaded = frozenset(loaded), version, now, now
            return self.types


_subscriptions = _Subscriptions()


def subscriptions_changed() -> None:
    """Call after changing endpoints' event types or enabled flag (saves and deletes call it for you).

    This process forgets at once; the others see the new version after the transaction commits
    (bumped then, so nobody caches the old rows under the new version).
    """
    _subscriptions.forget()

    def bump() -> None:
        _subscriptions.forget()
        try:
            cache.incr(SUBSCRIPTIONS_VERSION_KEY)
        except ValueError:  # no version yet in this cache
            cache.set(SUBSCRIPTIONS_VERSION_KEY, 1, timeout=None)

    transaction.on_commit(bump)


@receiver(post_save, sender=Endpoint, dispatch_uid="partner-endpoint-saved")
@receiver(post_delete, sender=Endpoint, dispatch_uid="partner-endpoint-deleted")
def on_endpoint_changed(sender: Any, **kwargs: Any) -> None:
    subscriptions_changed()


def subscribed_event_types() -> frozenset[str]:
    """Event types of enabled endpoints ("*" among them means every type)."""
    return _subscriptions.current()
