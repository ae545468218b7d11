"""Analytics admin, one module per side (admin_acquisition, admin_behaviour)."""

from tracking.analytics import admin_acquisition, admin_behaviour  # noqa: F401
