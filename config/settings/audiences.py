"""Settings for audiences."""

AUDIENCES_BEAT: dict = {}
