"""Journey and audience events offered to partner webhook subscriptions (channels.partner).

Published inside the caller's transaction: the delivery rows commit (or roll back) with the change
they describe. Each has an idempotency key derived from the run, so a retried batch publishes once.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

EVENT_TYPES = [
    ("journey.entered", "A profile entered a journey"),
    ("journey.stage_changed", "A profile moved to another stage of a journey"),
    ("journey.converted", "A profile in a journey reached the journey's goal"),
    ("journey.exited", "A profile left a journey (completed it or met an exit condition)"),
    ("audience.entered", "A profile entered an audience"),
    ("audience.exited", "A profile left an audience"),
]


def event_types_register() -> None:
    try:
        from channels.partner.registry import event_types_register as register
    except ImportError:
        logger.info("channels.partner is not installed: journey events are not offered to partners")
        return
    register(EVENT_TYPES)


def publish_many(events: list[tuple[str, dict, str]]) -> int:
    """(event_type, payload, idempotency suffix) → deliveries created."""
    if not events:
        return 0
    try:
        from channels.partner.models import Endpoint
        from channels.partner.services import partner_event_publish
    except ImportError:
        return 0
    # One query per batch decides which types anyone listens to; most batches publish nothing.
    subscribed: set[str] = set()
    for types in Endpoint.objects.filter(enabled=True).values_list("event_types", flat=True):
        subscribed.update(types or [])
    if not subscribed:
        return 0
    total = 0
    for event_type, payload, key in events:
        if "*" not in subscribed and event_type not in subscribed:
            continue
        total += partner_event_publish(
            event_type=event_type, payload=payload, idempotency_key=f"{event_type}:{key}"
        )
    return total
