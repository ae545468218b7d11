"""Source writes: creating a source with its write key, changing its settings."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tracking.models import Source, new_write_key
from tracking.origins import origins_normalize

# Write keys travel in HTTP Basic user names and JSON bodies: keep them to URL-safe characters.
_WRITE_KEY = re.compile(r"^[A-Za-z0-9_\-.]{8,100}$")


def _origins(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    try:
        return origins_normalize(values)
    except ValidationError as exc:
        raise ValidationError({"allowed_origins": exc.messages})


def _validate(
    *, name: str | None = None, write_key: str | None = None, rate_limit: int | None = None
) -> None:
    errors: dict[str, list[str]] = {}
    if name is not None and not name.strip():
        errors["name"] = ["must not be empty"]
    elif name is not None and len(name) > 100:
        errors["name"] = ["at most 100 characters"]
    if write_key is not None and not _WRITE_KEY.match(write_key):
        errors["write_key"] = ["8 to 100 characters from A-Z, a-z, 0-9, '_', '-' and '.'"]
    if rate_limit is not None and rate_limit < 1:
        errors["rate_limit_per_second"] = ["must be at least 1, or empty for no limit"]
    if errors:
        raise ValidationError(errors)


def _unique(*, name: str | None, write_key: str | None, exclude_pk: int | None = None) -> None:
    others = Source.objects.exclude(pk=exclude_pk) if exclude_pk else Source.objects.all()
    errors: dict[str, list[str]] = {}
    if name is not None and others.filter(name=name).exists():
        errors["name"] = [f"a source named {name!r} already exists"]
    if write_key is not None and others.filter(write_key=write_key).exists():
        errors["write_key"] = ["another source already uses this write key"]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def source_create(
    *,
    name: str,
    write_key: str | None = None,
    rate_limit_per_second: int | None = None,
    enabled: bool = True,
    allowed_origins: list[str] | None = None,
) -> Source:
    """A new source; a write key is generated unless one is given (e.g. to keep an existing SDK setup)."""
    name = name.strip()
    _validate(name=name, write_key=write_key, rate_limit=rate_limit_per_second)
    origins = _origins(allowed_origins) or []
    _unique(name=name, write_key=write_key)
    try:
        with transaction.atomic():
            return Source.objects.create(
                name=name,
                write_key=write_key or new_write_key(),
                rate_limit_per_second=rate_limit_per_second,
                enabled=enabled,
                allowed_origins=origins,
            )
    except IntegrityError:
        # Lost a race with a concurrent create of the same name or key.
        _unique(name=name, write_key=write_key)
        raise


@transaction.atomic
def source_update(
    *,
    source: Source,
    name: str | None = None,
    enabled: bool | None = None,
    rate_limit_per_second: int | None = None,
    clear_rate_limit: bool = False,
    allowed_origins: list[str] | None = None,
) -> Source:
    """Change a source's name, enabled flag, rate limit (`clear_rate_limit` removes it) or browser origins."""
    if name is not None:
        name = name.strip()
    _validate(name=name, rate_limit=rate_limit_per_second)
    origins = _origins(allowed_origins)
    _unique(name=name, write_key=None, exclude_pk=source.pk)
    if name is not None:
        source.name = name
    if enabled is not None:
        source.enabled = enabled
    if clear_rate_limit:
        source.rate_limit_per_second = None
    elif rate_limit_per_second is not None:
        source.rate_limit_per_second = rate_limit_per_second
    if origins is not None:
        source.allowed_origins = origins
    source.save(update_fields=["name", "enabled", "rate_limit_per_second", "allowed_origins"])
    return source


@transaction.atomic
def source_write_key_rotate(*, source: Source) -> Source:
    """A fresh write key; the old one stops working (within the ingest cache's few seconds)."""
    source.write_key = new_write_key()
    source.save(update_fields=["write_key"])
    return source
