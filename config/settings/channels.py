"""Settings for channels."""

CHANNELS_BEAT: dict = {}
