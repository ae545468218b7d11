"""Ingestion limits (Segment's own) and ingestion behaviour."""

from celery.schedules import crontab

from .env import env

TRACKING_MAX_MESSAGE_BYTES = 32 * 1024
TRACKING_MAX_BATCH_BYTES = 500 * 1024
TRACKING_MAX_BATCH_MESSAGES = 2500
# How many accepted events one processing pass resolves to profiles.
TRACKING_PROCESS_BATCH_SIZE = env.int("TRACKING_PROCESS_BATCH_SIZE", default=2000)
# Processing is woken on commit of each accepted request; the beat tick catches anything missed.
TRACKING_PROCESS_ON_COMMIT = env.bool("TRACKING_PROCESS_ON_COMMIT", default=True)
# Touches (UTM, click ids, referrer) read as events are processed; off leaves them to the hourly
# sweep (bench.ingest --touches both measures ingestion with and without).
ANALYTICS_TOUCHES_ON_INGEST = env.bool("ANALYTICS_TOUCHES_ON_INGEST", default=True)
# At most one queued wake-up: the key lives from enqueue until the task starts, or this long if the
# task was lost (then the beat sweep runs it anyway).
TRACKING_WAKE_TIMEOUT_SECONDS = env.int("TRACKING_WAKE_TIMEOUT_SECONDS", default=5)

# CORS (django-cors-headers) on the ingestion paths only. Origins are allowed per source in the admin
# (Source.allowed_origins), decided by tracking.origins through the check_request_enabled signal, so
# the static list stays empty. Browsers send the write key as HTTP Basic auth, hence "authorization".
CORS_URLS_REGEX = r"^/v1/"
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "content-encoding", "x-retry-count")
# Chromium caps a cached preflight at 2 hours; asking for more changes nothing.
CORS_PREFLIGHT_MAX_AGE = 7200

# analytics.js (@segment/analytics-next's standalone bundle), vendored under
# tracking/vendor/analytics-next/<version>/ and served at /analytics.js/v1/<writeKey>/analytics.min.js.
TRACKING_ANALYTICS_JS_VERSION = "1.84.3"
# How long browsers and proxies may keep the library (its chunks have content hashes: a year).
TRACKING_ANALYTICS_JS_MAX_AGE = env.int("TRACKING_ANALYTICS_JS_MAX_AGE", default=3600)
TRACKING_SETTINGS_MAX_AGE = env.int("TRACKING_SETTINGS_MAX_AGE", default=300)

TRACKING_BEAT = {
    # Sweeps up anything the on-commit wake-up missed (a broker outage, a killed worker).
    "tracking-process-pending": {"task": "tracking.events_process", "schedule": 5.0},
    # Growth analytics: touches swept up and order credits recomputed hourly; the CLV fit (and the
    # predicted_clv_12m / probability_alive / expected_orders_90d traits) nightly.
    "analytics-acquisition-refresh": {"task": "analytics.acquisition_refresh", "schedule": 3600.0},
    "analytics-clv-refresh": {"task": "analytics.clv_refresh", "schedule": crontab(hour=3, minute=17)},
    # Behaviour rollups (search keywords, slots, affinity): days marked dirty by processing are folded.
    "analytics-behaviour-rollups-fold": {"task": "analytics.behaviour_rollups_fold", "schedule": 60.0},
}
