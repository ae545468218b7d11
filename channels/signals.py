"""What channels announces to the floors above it (journeys, reports and partner webhooks subscribe).

- `message_status_changed`: sent after commit whenever a message's status timeline gains an entry
  (kwargs: message_id: int, status: str — the message's status now, kind: str — the MessageEvent
  kind just recorded: queued, sent, delivered, deferred, bounced, failed, skipped, opened, clicked,
  unsubscribed, spam_report, …).
- `messages_erasing`: sent inside an erasure transaction just before a person's messages are deleted
  (kwargs: message_ids: list[int]), so floors above drop the rows they keep per message.
"""

from django.dispatch import Signal

message_status_changed = Signal()
messages_erasing = Signal()
