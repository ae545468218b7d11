"""Published definitions by version id. A published version never changes, so caching it is safe."""

from __future__ import annotations

from functools import lru_cache

from journeys.models import JourneyVersion


@lru_cache(maxsize=512)
def _published(version_id: int) -> dict:
    version = JourneyVersion.objects.only("definition", "published_at").get(pk=version_id)
    if version.published_at is None:
        raise ValueError(f"journey version {version_id} is a draft; runs only use published versions")
    return version.definition


def definition_of(version_id: int) -> dict:
    return _published(version_id)


def cache_clear() -> None:
    _published.cache_clear()
