"""Static audiences: members from an uploaded CSV of emails, phones or user ids, with a match report.

Good lines are kept whatever else the file holds; every bad line is reported with its number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from audiences.models import Audience, AudienceKind, AudienceMembership, StaticUpload
from audiences.services.membership import _announce
from tracking.identity_keys import normalize_email, normalize_phone
from tracking.models import Identity, IdentityKind

ID_KINDS = {"email": IdentityKind.EMAIL, "phone": IdentityKind.PHONE, "user_id": IdentityKind.USER_ID}
HEADER_NAMES = {
    "email",
    "e-mail",
    "email address",
    "phone",
    "phone number",
    "mobile",
    "user_id",
    "userid",
    "user id",
    "id",
}
CHUNK = 1000
MAX_REPORTED = 1000


class UploadError(ValueError):
    """The file as a whole cannot be read (not the individual lines, which are reported)."""


def _normalize(kind: str, raw: str) -> tuple[str | None, str]:
    if kind == "email":
        value = normalize_email(raw)
        return value, "not a valid email address"
    if kind == "phone":
        value = normalize_phone(raw)
        return value, "not a phone number in international format (+country code)"
    value = raw if 0 < len(raw) <= 255 else None
    return value, "a user id is 1 to 255 characters"


def _rows(text: str, kind: str, column: str | None) -> Iterable[tuple[int, str]]:
    reader = csv.reader(io.StringIO(text))
    index = 0
    for line_no, row in enumerate(reader, start=1):
        if line_no == 1:
            cells = [c.strip().lower() for c in row]
            if column:
                if column.strip().lower() not in cells:
                    raise UploadError(f"column {column!r} is not in the header line: {', '.join(row)}")
                index = cells.index(column.strip().lower())
                continue
            if cells and cells[0] in HEADER_NAMES:
                continue
        if not row or not any(c.strip() for c in row):
            continue
        yield line_no, (row[index] if index < len(row) else "").strip()


@transaction.atomic
def audience_static_upload(
    *,
    audience: Audience,
    file: IO[bytes] | bytes,
    id_kind: str,
    column: str | None = None,
    replace: bool = False,
    file_name: str = "",
    user: Any = None,
) -> StaticUpload:
    if audience.kind != AudienceKind.STATIC:
        raise UploadError(f"audience {audience.slug!r} is a rule audience; uploads go to static audiences")
    if id_kind not in ID_KINDS:
        raise UploadError("id_kind must be one of: " + ", ".join(ID_KINDS))
    data = file if isinstance(file, bytes) else file.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError("the file is not UTF-8 text")
    upload = StaticUpload(
        audience=audience, file_name=file_name[:255], id_kind=id_kind, replace=replace, created_by=user
    )
    invalid: list[dict[str, Any]] = []
    wanted: dict[str, int] = {}  # normalised value → first line
    for line_no, raw in _rows(text, id_kind, column):
        value, reason = _normalize(id_kind, raw)
        if value is None:
            invalid.append({"line": line_no, "value": raw[:200], "reason": reason if raw else "empty"})
        else:
            wanted.setdefault(value, line_no)
    matched: set[int] = set()
    found_values: set[str] = set()
    values = list(wanted)
    for start in range(0, len(values), CHUNK):
        for value, profile_id in Identity.objects.filter(
            kind=ID_KINDS[id_kind], value__in=values[start : start + CHUNK]
        ).values_list("value", "profile_id"):
            found_values.add(value)
            matched.add(profile_id)
    unmatched = [v for v in values if v not in found_values]
    upload.matched, upload.unmatched = len(found_values), len(unmatched)
    upload.invalid, upload.unmatched_sample = invalid[:MAX_REPORTED], unmatched[:20]
    upload.save()
    _members_set(audience=audience, profile_ids=matched, replace=replace)
    return upload


def _members_set(*, audience: Audience, profile_ids: set[int], replace: bool) -> None:
    now = timezone.now()
    Audience.objects.select_for_update().filter(pk=audience.pk).first()
    current = set(
        AudienceMembership.objects.filter(audience=audience, exited_at__isnull=True).values_list(
            "profile_id", flat=True
        )
    )
    entered = sorted(profile_ids - current)
    exited = sorted(current - profile_ids) if replace else []
    AudienceMembership.objects.bulk_create(
        [AudienceMembership(audience=audience, profile_id=pid, entered_at=now) for pid in entered],
        batch_size=1000,
    )
    if exited:
        AudienceMembership.objects.filter(
            audience=audience, exited_at__isnull=True, profile_id__in=exited
        ).update(exited_at=now)
    audience.member_count = len(current) + len(entered) - len(exited)
    audience.last_refreshed_at = now
    Audience.objects.filter(pk=audience.pk).update(member_count=audience.member_count, last_refreshed_at=now)
    _announce(audience, entered, exited)
