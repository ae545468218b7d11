"""What channels does when tracking announces news about profiles."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from channels import signals
from channels.models import Message
from channels.suppressions import suppressions_forget_addresses
from tracking.models import ContactPoint


def on_profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    # Inside the merge transaction, before the merged profile is deleted: its messages move over.
    Message.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)


def on_profile_erased(sender: Any, *, profile_id: int, **kwargs: Any) -> None:
    # Erasure: the profile's messages, attempts, timelines and sandbox copies go with it; its addresses
    # stay suppressed where they were, but by their keyed hash only.
    messages = Message.objects.filter(profile_id=profile_id)
    addresses: dict[str, set[str]] = defaultdict(set)
    for channel, address in ContactPoint.objects.filter(profile_id=profile_id).values_list(
        "channel", "address"
    ):
        addresses[channel].add(address)
    for channel, address in messages.exclude(address="").values_list("channel", "address").distinct():
        addresses[channel].add(address)
    suppressions_forget_addresses(addresses_by_channel=addresses)
    message_ids = list(messages.values_list("id", flat=True))
    if message_ids:
        signals.messages_erasing.send(sender=Message, message_ids=message_ids)
    messages.delete()
