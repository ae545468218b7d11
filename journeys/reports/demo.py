"""The demo's reports: once the demo's campaigns have run (load_demo calls the upper floors in order,
this one last), the rollups are rebuilt from their rows so the report pages open with figures."""

from __future__ import annotations

import time
from typing import IO, TextIO

from journeys.reports.fold import rollups_rebuild


def reports_rebuild_all(*, stdout: IO[str] | None = None) -> int:
    """Rebuild every campaign's report rollups from raw rows; returns rollup rows written."""
    started = time.perf_counter()
    rows = rollups_rebuild()
    if stdout:
        stdout.write(f"  {rows} rollup rows rebuilt in {time.perf_counter() - started:.1f} s\n")
    return rows


def load_demo(*, stdout: TextIO) -> None:
    from journeys.reports.models import HourlyRollup

    stdout.write("Reports: rollups of the demo's campaigns\n")
    reports_rebuild_all(stdout=stdout)
    campaigns = HourlyRollup.objects.values_list("campaign_kind", "campaign_id").distinct().count()
    stdout.write(f"  {campaigns} campaigns with figures: open /reports/ (Campaign reports in the admin)\n")
