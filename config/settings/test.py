"""Tests run against real PostgreSQL and Redis (make test points at them); no silent SQLite fallback."""

from django.core.exceptions import ImproperlyConfigured

from . import *  # noqa: F401,F403
from .base import IS_POSTGRES, REDIS_URL
from .env import env

if not IS_POSTGRES and not env.bool("VOYAGE_TEST_ALLOW_SQLITE", default=False):
    raise ImproperlyConfigured(
        "Tests need PostgreSQL: set DATABASE_URL=postgres://… (make test does), "
        "or VOYAGE_TEST_ALLOW_SQLITE=1 for a quick local run."
    )
if not REDIS_URL and not env.bool("VOYAGE_TEST_ALLOW_SQLITE", default=False):
    raise ImproperlyConfigured("Tests need Redis: set REDIS_URL=redis://… (make test does).")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run in-process unless a test starts a real worker (tests/workers.py), which uses its own settings.
CELERY_TASK_ALWAYS_EAGER = True
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default="/tmp/voyage-test-media")
