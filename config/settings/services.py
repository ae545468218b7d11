"""Which PostgreSQL and Redis this process uses; read by base.py before any other setting.

- DATABASE_URL / REDIS_URL when set (production; make test passes TEST_DATABASE_URL / TEST_REDIS_URL
  as those; manage.py demo_run passes its own to the processes it starts).
- Unset, under the test settings (DJANGO_SETTINGS_MODULE=config.settings.test, decided here because
  the settings package's defaults are read before config/settings/test.py): the usual local
  servers when something answers on 127.0.0.1:5432 / :6379 (postgres:postgres, database voyage;
  Redis database 1); otherwise the project's own, installed by pip: the embedded PostgreSQL and a
  redis-server child process that stops with this process (core/embedded_redis.py). No Redis at all
  fails at once with the command that installs one.
- Unset, under the production settings: refused.
- Unset, otherwise: the embedded PostgreSQL (core/embedded_postgres.py, data in .pgdata/); no Redis
  (Celery runs tasks in-process, the cache is per process).
"""

from __future__ import annotations

import atexit
import os

from django.core.exceptions import ImproperlyConfigured

from core.embedded_postgres import embedded_postgres_url
from core.embedded_redis import EmbeddedRedisError, answers, embedded_redis_start

LOCAL_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/voyage"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/1"


def _testing() -> bool:
    return os.environ.get("DJANGO_SETTINGS_MODULE") == "config.settings.test"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url and os.environ.get("DJANGO_SETTINGS_MODULE") == "config.settings.production":
        raise ImproperlyConfigured("Set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB in production.")
    if not url:
        url = LOCAL_DATABASE_URL if _testing() and answers("127.0.0.1", 5432) else embedded_postgres_url()
        # Processes started from this one (tests' Celery workers) use the same database.
        os.environ["DATABASE_URL"] = url
    return url


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if url or not _testing():
        return url
    if answers("127.0.0.1", 6379):
        url = LOCAL_REDIS_URL
    else:
        try:
            server = embedded_redis_start()
        except EmbeddedRedisError as exc:
            raise ImproperlyConfigured(f"Tests need Redis: nothing answers on 127.0.0.1:6379. {exc}") from exc
        atexit.register(server.stop)
        url = server.url(1)
    os.environ["REDIS_URL"] = url
    return url
