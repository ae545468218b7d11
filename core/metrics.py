"""Prometheus: django-prometheus measures the web side (requests, latencies, database); this
collector adds every figure the floors registered in core.health, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from core.health import health_readings, readiness_checks


class HealthCollector(Collector):
    def describe(self) -> list[GaugeMetricFamily]:
        # Without describe(), registering calls collect() to learn the names: the readiness checks
        # would query the database and the broker while Django is still starting (every process,
        # every management command). The floors register their gauges later anyway.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for reading in health_readings():
            family = GaugeMetricFamily(reading.gauge.name, reading.gauge.help)
            # An unreadable figure is exported as NaN rather than left out, so alerts see it vanish.
            family.add_metric([], reading.value if reading.value is not None else float("nan"))
            yield family
        ready = GaugeMetricFamily("voyage_ready", "1 when the check passes", labels=["check"])
        for check in readiness_checks():
            ready.add_metric([check.name], 1.0 if check.ok else 0.0)
        yield ready


_registered = False


def health_collector_register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(HealthCollector())
        _registered = True
