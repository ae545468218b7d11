"""Django admin for tracking. The order-import admin lives in its own module, imported below."""

from tracking import admin_imports  # noqa: F401
