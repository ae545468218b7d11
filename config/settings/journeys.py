"""Settings for journeys."""

JOURNEYS_BEAT: dict = {}
