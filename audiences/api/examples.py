"""OpenAPI examples for the audiences API: the issue's own audiences, and what errors look like."""

from drf_spectacular.utils import OpenApiExample

REPEAT_BUYERS_RULE = {
    "all": [
        {"event": "Order Completed", "count": {"gte": 2}, "within_days": 90},
        {"event": "Order Completed", "sum": {"property": "revenue", "gt": 100}, "within_days": 90},
        {"trait": "address.country", "op": "in", "value": ["US", "DE"]},
        {"not": {"event": "Email Link Clicked", "within_days": 30}},
    ]
}

audience_create = OpenApiExample(
    "Repeat buyers in the US or Germany who stopped clicking",
    request_only=True,
    value={
        "slug": "repeat-buyers-us-de-quiet",
        "name": "Repeat buyers (US/DE), no clicks in 30 days",
        "description": "Ordered twice in 90 days, spent over $100, and has not clicked an email in 30 days.",
        "kind": "rule",
        "rule": REPEAT_BUYERS_RULE,
        "refresh_every_minutes": 60,
    },
)
audience_cross_sell = OpenApiExample(
    "Cross-sell: bought the shampoo but not the conditioner",
    request_only=True,
    value={
        "slug": "shampoo-no-conditioner",
        "name": "Shampoo without conditioner",
        "rule": {
            "all": [
                {
                    "event": "Order Completed",
                    "where": [{"property": "products.sku", "op": "eq", "value": "SHAMPOO-250"}],
                },
                {
                    "not": {
                        "event": "Order Completed",
                        "where": [{"property": "products.sku", "op": "eq", "value": "COND-250"}],
                    }
                },
            ]
        },
    },
)
audience_response = OpenApiExample(
    "An audience",
    response_only=True,
    value={
        "slug": "repeat-buyers-us-de-quiet",
        "name": "Repeat buyers (US/DE), no clicks in 30 days",
        "description": "",
        "kind": "rule",
        "rule": REPEAT_BUYERS_RULE,
        "refresh_every_minutes": 60,
        "member_count": 412,
        "last_refreshed_at": "2026-05-01T10:00:00Z",
        "created_at": "2026-04-01T09:00:00Z",
        "updated_at": "2026-04-01T09:00:00Z",
    },
)
invalid_rule = OpenApiExample(
    "Invalid rule: every error by path",
    response_only=True,
    status_codes=["400"],
    value={
        "detail": "The rule is invalid.",
        "errors": [
            {"path": "all[0].trait.op", "message": "unknown operator 'equals'; use one of: eq, neq, …"},
            {"path": "all[2].event.count.gte", "message": "must be a non-negative integer"},
        ],
        "warnings": [
            {"path": "all[1].event", "message": "no event named 'Order Complete' has been received yet"}
        ],
    },
)
preview_request = OpenApiExample(
    "VIPs whose last order is over 60 days old",
    request_only=True,
    value={"rule": {"all": [{"tag": "vip"}, {"last_event": "Order Completed", "older_than_days": 60}]}},
)
preview_response = OpenApiExample(
    "Preview",
    response_only=True,
    value={
        "count": 1284,
        "sample": [
            {
                "id": 9051,
                "name": "Profile 9051 (ana@example.com)",
                "email": "ana@example.com",
                "country": "DE",
            }
        ],
        "sample_hidden": False,
        "reachable": {"email": 1190, "sms": 310, "whatsapp": 295, "push": 0, "webpush": 0, "webhook": 0},
        "warnings": [],
    },
)
upload_report = OpenApiExample(
    "Match report",
    response_only=True,
    value={
        "id": 7,
        "id_kind": "email",
        "matched": 2,
        "unmatched": 1,
        "invalid": [{"line": 4, "value": "not-an-email", "reason": "not a valid email address"}],
        "unmatched_sample": ["nobody@example.com"],
        "members": 2,
    },
)
