"""For the demo loader: call reports_rebuild_all() once the demo's campaigns have run."""

from __future__ import annotations

import time
from typing import IO

from django.db import connection

from journeys.reports.fold import rollups_rebuild


def reports_rebuild_all(*, stdout: IO[str] | None = None) -> int:
    """Rebuild every campaign's report rollups from raw rows; returns rollup rows written.
    On SQLite (the default demo) reports are not available and this does nothing."""
    if connection.vendor != "postgresql":
        if stdout:
            stdout.write("Campaign reports: skipped (they need PostgreSQL)\n")
        return 0
    started = time.perf_counter()
    rows = rollups_rebuild()
    if stdout:
        stdout.write(f"Campaign reports: {rows} rollup rows in {time.perf_counter() - started:.1f} s\n")
    return rows
