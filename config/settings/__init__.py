"""Default settings: safe for the demo (SQLite, in-process Celery) and for development."""

from .api import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .celery import *  # noqa: F401,F403
from .tracking import *  # noqa: F401,F403
