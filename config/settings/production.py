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
# HTTPS only: plain-HTTP requests are redirected, except the health and metrics endpoints that
# orchestrators and Prometheus call inside the network. Set SECURE_SSL_REDIRECT=False when the
# proxy in front already redirects.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
# Browsers remember to use HTTPS for a year. Start lower (e.g. 3600) the first time HTTPS is turned on.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Voyage usually runs on one subdomain of a shop's domain: HSTS for every sibling subdomain, and the
# browsers' preload list, are the domain owner's decision, so not defaults — and not warnings.
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
