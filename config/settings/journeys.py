"""Settings for journeys."""

from .env import env

# Runs claimed per batch; a batch is one transaction (bulk writes), so bigger batches go faster.
JOURNEYS_BATCH_SIZE = env.int("JOURNEYS_BATCH_SIZE", default=500)
# A claimed batch not finished within this many seconds (worker killed) is taken by another worker.
JOURNEYS_LEASE_SECONDS = env.int("JOURNEYS_LEASE_SECONDS", default=120)
# How many advance tasks a wake-up starts (one per worker you want busy on a burst).
JOURNEYS_ADVANCE_FANOUT = env.int("JOURNEYS_ADVANCE_FANOUT", default=1)
JOURNEYS_WAKE_ON_COMMIT = env.bool("JOURNEYS_WAKE_ON_COMMIT", default=True)
# The zone for "at 10:00" and schedules when a profile has none.
JOURNEYS_DEFAULT_TIMEZONE = env.str("JOURNEYS_DEFAULT_TIMEZONE", default="UTC")

JOURNEYS_BEAT = {
    # Due waits, scheduled entries and broadcasts; runs also wake on events and audience changes.
    "journeys-tick": {"task": "journeys.tick", "schedule": 30.0},
}

# On-site messages: the shortest time between two pop-ups (modal, slide-in) for one visitor, site-wide.
ONSITE_POPUP_MIN_GAP_SECONDS = env.int("ONSITE_POPUP_MIN_GAP_SECONDS", default=60)
# Pop-ups (modal, slide-in) one decide answers at most, highest priority first: each may have its own
# trigger, the snippet shows the first that fires and no other on that page.
ONSITE_POPUPS_PER_PAGE = env.int("ONSITE_POPUPS_PER_PAGE", default=3)
# A journey's "show on-site message M on the next visit" is offered this many days at most (an action
# may say otherwise with "expires_days").
ONSITE_QUEUE_DAYS = env.int("ONSITE_QUEUE_DAYS", default=7)
# The snippet's version: in its URL (/onsite/<version>/onsite.js), so a change is a new URL.
ONSITE_SNIPPET_VERSION = "1"
# Public on-site endpoints: token buckets per client address (core/ratelimit.py), in requests/s.
# A page view makes one decide and a few interaction calls; a form is submitted rarely.
ONSITE_RATE_PER_IP = env.float("ONSITE_RATE_PER_IP", default=20.0)
ONSITE_RATE_BURST = env.float("ONSITE_RATE_BURST", default=60.0)
ONSITE_SUBMIT_RATE_PER_IP = env.float("ONSITE_SUBMIT_RATE_PER_IP", default=0.2)
ONSITE_SUBMIT_BURST = env.float("ONSITE_SUBMIT_BURST", default=5.0)
# Behind a proxy: the header it sets with the client's address (its last entry is trusted), e.g.
# X-Forwarded-For. Unset: the connection's address.
ONSITE_CLIENT_IP_HEADER = env.str("ONSITE_CLIENT_IP_HEADER", default="")
# The demo's shop page at /onsite/demo/shop/ (always on while DEBUG).
ONSITE_DEMO_SHOP = env.bool("ONSITE_DEMO_SHOP", default=False)
