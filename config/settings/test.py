"""Tests: real PostgreSQL and Redis (which ones: config/settings/services.py)."""

from . import *  # noqa: F401,F403
from .env import env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run in-process unless a test starts a real worker (tests/workers.py), which uses its own settings.
CELERY_TASK_ALWAYS_EAGER = True
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default="/tmp/voyage-test-media")
