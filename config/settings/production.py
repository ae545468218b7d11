"""Production: everything from the defaults, hardened, and refusing an insecure start."""

from django.core.exceptions import ImproperlyConfigured

from . import *  # noqa: F401,F403
from .env import DEFAULT_SECRET_KEY, env

SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Set SECRET_KEY to a random value of at least 32 characters in production.")
DEBUG = env.bool("DEBUG", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True

# Static files: `manage.py collectstatic` writes content-hashed, gzip/brotli-compressed copies to
# STATIC_ROOT; WhiteNoise serves them with far-future cache headers (a new deploy changes the names).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=False)
