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
# At most one queued wake-up: the key lives from enqueue until the task starts, or this long if the
# task was lost (then the beat sweep runs it anyway).
TRACKING_WAKE_TIMEOUT_SECONDS = env.int("TRACKING_WAKE_TIMEOUT_SECONDS", default=5)

TRACKING_BEAT = {
    # Sweeps up anything the on-commit wake-up missed (a broker outage, a killed worker).
    "tracking-process-pending": {"task": "tracking.events_process", "schedule": 5.0},
    # Growth analytics: touches swept up and order credits recomputed hourly; the CLV fit (and the
    # predicted_clv_12m / probability_alive / expected_orders_90d traits) nightly.
    "analytics-acquisition-refresh": {"task": "analytics.acquisition_refresh", "schedule": 3600.0},
    "analytics-clv-refresh": {"task": "analytics.clv_refresh", "schedule": crontab(hour=3, minute=17)},
}
