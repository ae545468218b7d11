"""Settings for audiences: refresh cadence, computed-tag thresholds and their beat schedule."""

from .env import env

# Audiences with moving time windows ("in the last 30 days") are fully re-evaluated this often,
# so a profile leaves when its order turns 31 days old without any new event.
AUDIENCES_WINDOW_REFRESH_MINUTES = env.int("AUDIENCES_WINDOW_REFRESH_MINUTES", default=5)
AUDIENCES_REFRESH_LEASE_MINUTES = 15
# Incremental re-evaluation works on this many profiles per statement.
AUDIENCES_INCREMENTAL_CHUNK = 1000
AUDIENCES_PREVIEW_SAMPLE = 20

# Computed tags: which events count as orders and where their amounts, coupons and categories are.
AUDIENCES_ORDER_EVENT = env.str("AUDIENCES_ORDER_EVENT", default="Order Completed")
AUDIENCES_ORDER_REVENUE_PROPERTY = "revenue"
AUDIENCES_ORDER_COUPON_PROPERTIES = ("coupon", "discount")
AUDIENCES_CATEGORY_PROPERTIES = ("category", "products.category")
AUDIENCES_RFM_WINDOW_DAYS = 365
# Lifecycle stage, in days: new = first seen within NEW days; active = last order or visit within
# ACTIVE days; at risk = last activity within AT_RISK days; otherwise churned.
AUDIENCES_LIFECYCLE_NEW_DAYS = env.int("AUDIENCES_LIFECYCLE_NEW_DAYS", default=14)
AUDIENCES_LIFECYCLE_ACTIVE_DAYS = env.int("AUDIENCES_LIFECYCLE_ACTIVE_DAYS", default=30)
AUDIENCES_LIFECYCLE_AT_RISK_DAYS = env.int("AUDIENCES_LIFECYCLE_AT_RISK_DAYS", default=90)
AUDIENCES_ACTIVITY_WINDOW_DAYS = 90

AUDIENCES_BEAT: dict = {
    # Claims audiences whose full refresh is due (per-audience interval, or a moving window).
    "audiences-refresh-due": {"task": "audiences.refresh_due", "schedule": 60.0},
    "audiences-computed-tags": {"task": "audiences.computed_tags", "schedule": 6 * 3600.0},
}
