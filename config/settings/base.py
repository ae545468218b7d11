"""Django core: apps, middleware, database, auth, i18n, static files."""

from django.core.exceptions import ImproperlyConfigured

from . import services
from .env import BASE_DIR, DEFAULT_SECRET_KEY, env

SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
# Fernet keys (newest first) encrypting secrets at rest (core/fields.py); empty: derived from SECRET_KEY.
# Generate one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
VOYAGE_SECRET_KEYS = env.list("VOYAGE_SECRET_KEYS", default=[])
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Public base URL used in links we send out (unsubscribe, tracking pixels, click redirects).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_prometheus",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "corsheaders",
    "core",
    "tracking",
    "tracking.analytics",
    "audiences",
    "channels",
    "channels.partner",
    "journeys",
    "journeys.reports",
    "journeys.onsite",
]

MIDDLEWARE = [
    # Request counts and latencies for Prometheus (/metrics), measured around everything else.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # JSON errors under /api/ and /v1/ (even Django's own 404/413/500), no NUL in paths or queries.
    "core.middleware.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ from gunicorn itself (compressed, far-future cache headers on hashed names).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # CORS for the browser-facing ingestion paths only (/v1/*; see config/settings/tracking.py).
    "tracking.origins.CorsRefusalMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL only; DATABASE_URL unset: the embedded PostgreSQL (see services.py).
_database_url = services.database_url()
DATABASES = {"default": env.db_url_config(_database_url)}
if DATABASES["default"].get("ENGINE") != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        f"DATABASE_URL={_database_url.split(':', 1)[0]}:…: Voyage runs on PostgreSQL only. Set "
        "DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB, or unset it to use the embedded PostgreSQL."
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = services.redis_url()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "voyage",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("WORKSPACE_TIME_ZONE", default="UTC")
# Every revenue, price, cost and spend figure is shown in this currency (ISO 4217), converted at the
# ECB rate of its own day (tracking/analytics/money.py).
WORKSPACE_CURRENCY = env.str("WORKSPACE_CURRENCY", default="EUR").upper()
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` copies every app's static files here; WhiteNoise serves them.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Development and tests serve files straight from the apps; production (config.settings.production)
    # serves the collected, hashed and compressed copies.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Without collected files (the demo under runserver) WhiteNoise finds them in the apps.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # SendGrid's HTTP client logs every request's headers at DEBUG, the API key included: never
        # below INFO, whatever LOG_LEVEL says (tests/test_encrypted_fields.py).
        "python_http_client": {"level": "INFO"},
    },
}
