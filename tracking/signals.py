"""What tracking announces to the floors above it (audiences, channels, journeys subscribe).

- `events_processed`: sent after commit with the ids of events just resolved to profiles and the
  ids of those profiles (kwargs: event_ids, profile_ids).
- `profile_merged`: sent inside the merge transaction before the merged profile is deleted, so
  upper floors move their rows to the survivor (kwargs: survivor_id, merged_id).
- `profile_changed`: sent after commit when traits, tags or consent changed (kwargs: profile_ids).
- `profile_erased`: sent inside the erasure transaction before the profile is deleted
  (kwargs: profile_id), for rows that do not cascade.
"""

from django.dispatch import Signal

events_processed = Signal()
profile_merged = Signal()
profile_changed = Signal()
profile_erased = Signal()
