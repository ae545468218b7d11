"""What audiences announce to the floors above (journeys subscribe).

- `membership_changed`: sent after commit whenever a refresh (full or incremental) changed who is
  in an audience. kwargs: audience_id, slug, entered: list[int] profile ids, exited: list[int].
"""

from django.dispatch import Signal

membership_changed = Signal()
