"""The overview's sections for campaign kinds registered in journeys/reports/more.py."""

from __future__ import annotations

from typing import Any

from django import template

from journeys.reports.more import campaign_sections

register = template.Library()


@register.inclusion_tag("reports/_more_campaigns.html")
def more_campaigns(params: dict[str, Any]) -> dict[str, Any]:
    sections = campaign_sections(start=params.get("start"), end=params.get("end"))
    return {
        "sections": [
            {
                "section": section,
                "rows": [{**row, "cells": [row.get(key, "–") for key, _ in section.columns]} for row in rows],
            }
            for section, rows in sections
        ]
    }
