"""Examples shown in the OpenAPI schema and the docs page."""

from drf_spectacular.utils import OpenApiExample

PROFILE = {
    "id": 42,
    "requested_id": None,
    "merged_profile_ids": [17],
    "created_at": "2025-03-01T09:12:00Z",
    "updated_at": "2025-03-04T18:40:12Z",
    "first_seen_at": "2025-03-01T09:11:58Z",
    "last_seen_at": "2025-03-04T18:40:10Z",
    "identities": [
        {"kind": "user_id", "namespace": "", "value": "u-1001", "created_at": "2025-03-02T10:00:00Z"},
        {"kind": "anonymous_id", "namespace": "", "value": "7f0c…", "created_at": "2025-03-01T09:12:00Z"},
        {"kind": "email", "namespace": "", "value": "ana@example.com", "created_at": "2025-03-02T10:00:00Z"},
        {
            "kind": "external",
            "namespace": "amazon_buyer_id",
            "value": "A2X9…",
            "created_at": "2025-03-03T08:00:00Z",
        },
    ],
    "traits": {"email": "ana@example.com", "name": "Ana Souza", "plan": "vip"},
    "trait_updated_at": {
        "email": "2025-03-02T10:00:00+00:00",
        "name": "2025-03-02T10:00:00+00:00",
        "plan": "2025-03-04T18:40:10+00:00",
    },
    "tags": ["wholesale"],
    "timezone": "America/Sao_Paulo",
    "locale": "pt-BR",
    "country": "BR",
    "contact_points": [
        {
            "channel": "email",
            "address": "ana@example.com",
            "is_primary": True,
            "active": True,
            "created_at": "2025-03-02T10:00:00Z",
        }
    ],
    "consent": {
        "current": [
            {
                "channel": "email",
                "topic": "marketing",
                "status": "granted",
                "changed_at": "2025-03-02T10:00:00Z",
                "method": "form",
                "detail": "checkout opt-in",
            }
        ],
        "history": [
            {
                "channel": "email",
                "topic": "marketing",
                "status": "granted",
                "changed_at": "2025-03-02T10:00:00Z",
                "method": "form",
                "detail": "checkout opt-in",
            }
        ],
    },
}

EVENT = {
    "id": 90017,
    "message_id": "ajs-next-1741113610-7c9e",
    "source": "web",
    "type": "track",
    "name": "Order Completed",
    "user_id": "u-1001",
    "anonymous_id": "7f0c…",
    "group_id": "",
    "previous_id": "",
    "profile": 42,
    "properties": {"order_id": "50314", "revenue": 89.9, "currency": "BRL"},
    "traits": {},
    "context": {"ip": "203.0.113.9", "locale": "pt-BR", "timezone": "America/Sao_Paulo"},
    "original_timestamp": "2025-03-04T18:40:09.870Z",
    "sent_at": "2025-03-04T18:40:10.010Z",
    "received_at": "2025-03-04T18:40:10.250Z",
    "timestamp": "2025-03-04T18:40:10.110Z",
    "processed_at": "2025-03-04T18:40:11.002Z",
}

SOURCE = {
    "id": 3,
    "name": "storefront",
    "write_key": "Yx8k2vV3qO6bq1H0m3tZc2dQ5r7wP9sA",
    "enabled": True,
    "rate_limit_per_second": 500,
    "created_at": "2025-03-01T09:00:00Z",
}

profile_example = OpenApiExample("A profile", value=PROFILE, response_only=True)
# List examples show one item; the schema wraps it in the page envelope.
profile_list_example = OpenApiExample(
    "Look-up by email",
    value={
        k: PROFILE[k]
        for k in (
            "id",
            "identities",
            "traits",
            "tags",
            "timezone",
            "locale",
            "country",
            "first_seen_at",
            "last_seen_at",
        )
    },
    response_only=True,
)
events_page_example = OpenApiExample("An event", value=EVENT, response_only=True)
consent_request_example = OpenApiExample(
    "Withdraw email marketing",
    value={
        "channel": "email",
        "topic": "marketing",
        "granted": False,
        "method": "api",
        "detail": "support ticket 881",
    },
    request_only=True,
)
consent_response_example = OpenApiExample(
    "The decision as stored",
    value={
        "channel": "email",
        "topic": "marketing",
        "status": "withdrawn",
        "changed_at": "2025-03-05T12:00:00Z",
        "method": "api",
        "detail": "support ticket 881",
    },
    response_only=True,
)
validation_error_example = OpenApiExample(
    "Errors by field",
    value={"email": ["'ana@' is not a valid email address"]},
    response_only=True,
    status_codes=["400"],
)
source_example = OpenApiExample("A source", value=SOURCE, response_only=True)
source_create_example = OpenApiExample(
    "Create a source", value={"name": "storefront", "rate_limit_per_second": 500}, request_only=True
)
source_update_example = OpenApiExample(
    "Raise the rate limit", value={"rate_limit_per_second": 1000}, request_only=True
)
export_example = OpenApiExample(
    "An export",
    value={
        "profile": {"id": 42, "traits": {"email": "ana@example.com"}, "merged_profile_ids": [17]},
        "identities": PROFILE["identities"],
        "contact_points": PROFILE["contact_points"],
        "consent": PROFILE["consent"]["current"],
        "consent_history": PROFILE["consent"]["history"],
        "identity_conflicts": [],
        "events": [EVENT],
    },
    response_only=True,
)
