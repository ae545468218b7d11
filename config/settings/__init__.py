"""Default settings: for the demo and for development (PostgreSQL: the embedded one when
DATABASE_URL is unset; Celery in-process when REDIS_URL is unset, as `manage.py demo_run` sets it).

Each concern has its own module; each app's periodic tasks are declared there as <APP>_BEAT and
merged here into the one beat schedule (django-celery-beat's DatabaseScheduler installs them).
"""

from .api import *  # noqa: F401,F403
from .audiences import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .celery import *  # noqa: F401,F403
from .channels import *  # noqa: F401,F403
from .journeys import *  # noqa: F401,F403
from .tracking import *  # noqa: F401,F403

CELERY_BEAT_SCHEDULE = {**TRACKING_BEAT, **AUDIENCES_BEAT, **CHANNELS_BEAT, **JOURNEYS_BEAT}  # noqa: F405
