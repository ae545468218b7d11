"""Celery: a Redis broker when REDIS_URL is set (production, make demo), otherwise tasks run in-process."""

from .base import REDIS_URL
from .env import env

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Without a broker (a one-off manage.py command) every task runs in-process, right after the commit.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# Durable state lives in PostgreSQL; a message is acknowledged only after its task ran, so a
# killed worker's task is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis going away must never end a worker: reconnect forever (Celery's default gives up after 100
# tries, about ten minutes, and the worker exits), also at start-up, and notice a dead connection
# within seconds instead of at the next write.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_keepalive": True,
    "socket_connect_timeout": 5,
    "health_check_interval": 10,
    "retry_on_timeout": True,
}
# A task running when the broker connection drops is redelivered (acks_late) and must not also run
# to the end here: every task is idempotent over PostgreSQL state, so cancelling it is safe.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
