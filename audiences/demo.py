"""The demo store's audiences: the issue's examples, over the coffee shop's data.

`load_demo(stdout=...)` is called by tracking's demo loader after the store is loaded. It fills the
name catalogue, computes the computed tags, creates (or updates) the example audiences and
refreshes them, printing how many members each has. Safe to run again.
"""

from __future__ import annotations

from typing import Any, TextIO

from audiences.catalogue import catalogue_rebuild
from audiences.models import Audience, AudienceKind
from audiences.services.audiences import audience_create, audience_update
from audiences.services.computed_tags import computed_tags_recompute
from audiences.services.membership import audience_refresh


def _sku(name: str, fallback: str) -> str:
    try:
        from tracking.demo.catalogue import catalogue

        return next(p.sku for p in catalogue() if p.name == name)
    except (ImportError, StopIteration):
        return fallback


def demo_audiences() -> list[dict[str, Any]]:
    grinder = _sku("Burr Grinder", "BRE-303")
    return [
        {
            "slug": "repeat-buyers-us-de-quiet",
            "name": "Repeat buyers in the US or Germany who stopped clicking",
            "description": (
                "Ordered at least twice in the last 90 days and spent over 100, in the US or Germany, "
                "and has not clicked an email in 30 days."
            ),
            "rule": {
                "all": [
                    {"event": "Order Completed", "count": {"gte": 2}, "within_days": 90},
                    {
                        "event": "Order Completed",
                        "sum": {"property": "revenue", "gt": 100},
                        "within_days": 90,
                    },
                    {"trait": "address.country", "op": "in", "value": ["US", "DE"]},
                    {"not": {"event": "Email Link Clicked", "within_days": 30}},
                ]
            },
        },
        {
            "slug": "coffee-without-grinder",
            "name": "Cross-sell: bought coffee beans but not the grinder",
            "description": "Bought from the Coffee category but never the Burr Grinder.",
            "rule": {
                "all": [
                    {
                        "event": "Order Completed",
                        "where": [{"property": "products.category", "op": "eq", "value": "Coffee"}],
                    },
                    {
                        "not": {
                            "event": "Order Completed",
                            "where": [{"property": "products.sku", "op": "eq", "value": grinder}],
                        }
                    },
                ]
            },
        },
        {
            "slug": "viewed-not-bought",
            "name": "Viewed a product, then did not buy within a day",
            "description": (
                "Last product view between 1 and 7 days ago, and no view followed by an order in that week."
            ),
            "rule": {
                "all": [
                    {"last_event": "Product Viewed", "older_than_days": 1},
                    {"last_event": "Product Viewed", "within_days": 7},
                    {
                        "not": {
                            "sequence": [{"event": "Product Viewed"}, {"event": "Order Completed"}],
                            "within_days": 7,
                        }
                    },
                ]
            },
        },
        {
            "slug": "vips",
            "name": "VIPs",
            "description": "Tagged vip by hand, or champions / loyal by RFM.",
            "rule": {"any": [{"tag": "vip"}, {"tag": "rfm:champions"}, {"tag": "rfm:loyal"}]},
        },
        {
            "slug": "vips-lapsed",
            "name": "VIPs whose last order is over 60 days old",
            "rule": {
                "all": [
                    {"audience": "vips"},
                    {"last_event": "Order Completed", "older_than_days": 60},
                ]
            },
        },
        {
            "slug": "email-reachable-new",
            "name": "New customers we may email",
            "rule": {"all": [{"tag": "lifecycle:new"}, {"consent": "email", "topic": "marketing"}]},
        },
    ]


def load_demo(*, stdout: TextIO) -> None:
    catalogue_rebuild(days=365)
    tags = computed_tags_recompute()
    stdout.write(f"Audiences: {tags} computed tags\n")
    for spec in demo_audiences():
        fields = {**spec, "kind": AudienceKind.RULE, "refresh_every_minutes": 60}
        existing = Audience.objects.filter(slug=spec["slug"]).first()
        if existing is None:
            audience = audience_create(**fields)
        else:
            fields.pop("slug")
            audience = audience_update(audience=existing, **fields)
        result = audience_refresh(audience_id=audience.pk)
        stdout.write(f"  {audience.name}: {result.members} members\n")
