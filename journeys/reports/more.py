"""Campaign kinds that keep their own facts (on-site messages, …) register a section of the
overview page here; the reports app lists them without importing them (they sit beside it on the
journeys floor and subscribe, as lower floors' news is subscribed to)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class CampaignSection:
    key: str  # e.g. "onsite"
    title: str  # e.g. "On-site messages"
    help: str  # one sentence under the title: what each figure counts
    columns: tuple[tuple[str, str], ...]  # (key, label) of the figures in each row
    # rows(start=, end=) -> [{"name": …, "url": …, "group": …, <column key>: figure, …}]; dates inclusive
    rows: Callable[..., list[dict[str, Any]]]


_SECTIONS: dict[str, CampaignSection] = {}


def campaign_section_register(section: CampaignSection) -> None:
    _SECTIONS[section.key] = section


def campaign_sections(*, start: date | None, end: date | None) -> list[tuple[CampaignSection, list]]:
    """Each registered section with its rows for the range (sections without rows are left out)."""
    found = [(section, section.rows(start=start, end=end)) for section in _SECTIONS.values()]
    return [(section, rows) for section, rows in found if rows]
