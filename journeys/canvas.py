"""What the journey canvas (journeys/static/journeys/canvas.js) needs from the server: the things a
designer picks from (events seen, templates, audiences, partner endpoints, on-site messages, topics),
the rule editor's vocabulary, and a clean layout (node positions stored beside the definition)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings

from audiences.models import Audience, CatalogueEntry, CatalogueKind
from audiences.rules import FORMS, OPS
from channels.models import Template, Topic
from channels.partner.models import Endpoint
from journeys.onsite.models import Message as OnsiteMessage
from tracking.conditions import OPS as CONDITION_OPS
from tracking.conditions import UNARY_OPS
from tracking.models import Channel

MAX_PICKS = 500  # a picker longer than this is a search box, not a list
LAYOUT_ENTRY = "@entry"
# What the designer chose a node to be, where the definition alone cannot tell (an empty wait).
NODE_KINDS = ("stage", "wait", "branch", "split", "exit")


def canvas_pickers() -> dict[str, Any]:
    """Everything a canvas field offers as a choice, as plain JSON."""
    events = list(
        CatalogueEntry.objects.filter(kind=CatalogueKind.EVENT)
        .order_by("name")
        .values_list("name", flat=True)[:MAX_PICKS]
    )
    traits = list(
        CatalogueEntry.objects.filter(kind=CatalogueKind.TRAIT)
        .order_by("name")
        .values_list("name", flat=True)[:MAX_PICKS]
    )
    templates = [
        {"slug": slug, "name": name, "channel": channel, "topic": topic}
        for slug, name, channel, topic in Template.objects.order_by("name").values_list(
            "slug", "name", "channel", "topic"
        )[:MAX_PICKS]
    ]
    audiences = [
        {"slug": slug, "name": name}
        for slug, name in Audience.objects.order_by("name").values_list("slug", "name")[:MAX_PICKS]
    ]
    endpoints = [
        {"id": pk, "label": description or url, "enabled": enabled}
        for pk, url, description, enabled in Endpoint.objects.order_by("pk").values_list(
            "pk", "url", "description", "enabled"
        )[:MAX_PICKS]
    ]
    onsite_messages = [
        {"id": pk, "name": name, "status": status}
        for pk, name, status in OnsiteMessage.objects.order_by("name").values_list("pk", "name", "status")[
            :MAX_PICKS
        ]
    ]
    topics = sorted({*Topic.values, *(t["topic"] for t in templates if t["topic"])})
    return {
        "events": events,
        "templates": templates,
        "audiences": audiences,
        "endpoints": endpoints,
        "onsite_messages": onsite_messages,
        "onsite_queue_days": settings.ONSITE_QUEUE_DAYS,
        "topics": topics,
        "channels": list(Channel.values),
        "condition_ops": list(CONDITION_OPS),
        "unary_ops": list(UNARY_OPS),
        # The audience rule editor's vocabulary (audiences/static/audiences/rule_editor.js).
        "rules": {
            "forms": list(FORMS),
            "ops": list(OPS),
            "channels": list(Channel.values),
            "events": events,
            "traits": traits,
            "audiences": [a["slug"] for a in audiences],
        },
    }


def layout_clean(layout: Any) -> dict[str, Any]:
    """Keep only finite node positions (and a known node kind); anything else posted is dropped."""
    nodes = layout.get("nodes") if isinstance(layout, dict) else None
    if not isinstance(nodes, dict):
        return {"nodes": {}}
    clean: dict[str, dict[str, Any]] = {}
    for key, pos in nodes.items():
        if not isinstance(key, str) or len(key) > 101 or not isinstance(pos, dict):
            continue
        x, y = pos.get("x"), pos.get("y")
        if all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e6
            for v in (x, y)
        ):
            clean[key] = {"x": round(float(x), 1), "y": round(float(y), 1)}
            if pos.get("kind") in NODE_KINDS:
                clean[key]["kind"] = pos["kind"]
    return {"nodes": clean}
