"""Settings for channels: dispatch batching, leases, retries, consent policy, quiet hours."""

from .env import env

# How many due messages one worker claims per pass (SendGrid takes up to 1,000 recipients a request).
CHANNELS_DISPATCH_BATCH_SIZE = env.int("CHANNELS_DISPATCH_BATCH_SIZE", default=500)
# How long a claimed batch belongs to its worker; a killed worker's messages are taken over after it.
CHANNELS_LEASE_SECONDS = env.float("CHANNELS_LEASE_SECONDS", default=120.0)
# HTTP timeout of one provider call (must stay well under the lease).
CHANNELS_HTTP_TIMEOUT = env.float("CHANNELS_HTTP_TIMEOUT", default=15.0)
# Retries of retryable failures (timeouts, 429, 5xx): attempts in all, and the backoff.
CHANNELS_MAX_ATTEMPTS = env.int("CHANNELS_MAX_ATTEMPTS", default=6)
CHANNELS_RETRY_BASE_SECONDS = env.float("CHANNELS_RETRY_BASE_SECONDS", default=30.0)
CHANNELS_RETRY_MAX_SECONDS = env.float("CHANNELS_RETRY_MAX_SECONDS", default=6 * 3600.0)
# A message whose provider call was cut off by a crash, on a provider we cannot ask whether it
# arrived: "fail" (at most once: never a duplicate; the default) or "resend" (at least once).
CHANNELS_IN_DOUBT_POLICY = env.str("CHANNELS_IN_DOUBT_POLICY", default="fail")
# Marketing on these channels needs an explicit opt-in; elsewhere it needs no withdrawal (opt-out).
CHANNELS_MARKETING_OPT_IN_CHANNELS = env.list(
    "CHANNELS_MARKETING_OPT_IN_CHANNELS", default=["sms", "whatsapp"]
)
# Quiet hours per channel in the profile's own zone (start, end); options.quiet_hours overrides.
CHANNELS_QUIET_HOURS = {"sms": ("21:00", "08:00"), "whatsapp": ("21:00", "08:00")}
# Zone used for profiles without one (quiet hours, caps' calendar days, local send times).
CHANNELS_DEFAULT_TIME_ZONE = env.str("CHANNELS_DEFAULT_TIME_ZONE", default="UTC")
# Rewrite links in SMS bodies to our click redirect (counts clicks; makes messages longer).
CHANNELS_TRACK_SMS_LINKS = env.bool("CHANNELS_TRACK_SMS_LINKS", default=True)
# Links of our own messages carry utm_source=voyage, utm_medium, utm_campaign, utm_content (channels/utm.py),
# so visits they bring count as Email/SMS/Push touches in acquisition.
CHANNELS_UTM_TAGS = env.bool("CHANNELS_UTM_TAGS", default=True)
# Whether "<Channel> Sent" events go to the profile's event stream too (results always do).
CHANNELS_TRACK_SENT_EVENTS = env.bool("CHANNELS_TRACK_SENT_EVENTS", default=False)
# Wake a dispatch task on commit of each enqueue (the beat tick catches anything missed).
CHANNELS_DISPATCH_ON_COMMIT = env.bool("CHANNELS_DISPATCH_ON_COMMIT", default=True)
# Reject provider callbacks whose signature timestamp is older than this many seconds. Each
# delivery (and each retry) is signed when it is sent, so minutes cover network and queueing delays
# while a captured request cannot be replayed for long (the Standard Webhooks guidance is 5 minutes).
CHANNELS_CALLBACK_MAX_AGE = env.int("CHANNELS_CALLBACK_MAX_AGE", default=10 * 60)
# …and refuse a signed timestamp further in the future than ordinary clock skew.
CHANNELS_CALLBACK_MAX_SKEW = env.int("CHANNELS_CALLBACK_MAX_SKEW", default=60)

CHANNELS_BEAT = {
    # Due messages (send times, quiet-hours ends, retries) and anything an on-commit wake-up missed.
    "channels-dispatch-tick": {"task": "channels.dispatch", "schedule": 5.0},
    # Messages whose worker died mid-call: resolved once their lease has run out.
    "channels-lease-sweep": {"task": "channels.lease_sweep", "schedule": 30.0},
}
# Key of the keyed hash that finds suppressed addresses (channels/suppressions.py). Pin it in
# production and never change it; empty derives one from SECRET_KEY.
SUPPRESSION_HASH_KEY = env.str("SUPPRESSION_HASH_KEY", default="")
