"""The tracking management API (DRF): profiles, their events, consent and erasure; sources; events."""
