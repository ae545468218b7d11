"""Importing an order file: read it, send each order through the normal ingestion pipeline, summarise.

Orders become Segment-spec messages (tracking.imports.messages) that go through ingest_messages and
events_process_pending like any other event, so ID-Mapping matches them to profiles by email,
phone or external id, and a re-import is deduplicated by messageId.
"""

from __future__ import annotations

import codecs
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from tracking.imports.amazon import read_amazon
from tracking.imports.csv_orders import read_csv
from tracking.imports.fields import parse_currency
from tracking.imports.jsonl import read_jsonl
from tracking.imports.messages import order_messages, track_message_id
from tracking.imports.types import (
    ERROR,
    WARNING,
    FieldError,
    ImportFailed,
    ParsedOrder,
    Progress,
    ReadResult,
    RowIssue,
)
from tracking.ingest import ingest_messages
from tracking.models import Event, ImportFormat, OrderImport, Profile, Source
from tracking.processing import events_process_pending

FORMATS = [f.value for f in ImportFormat]
CHUNK_ORDERS = 250  # orders per ingest call (two messages each), well under a batch's limits
QUERY_CHUNK = 2000
# How long to wait for another processor (a Celery worker) to resolve the imported events.
PROCESSING_WAIT_SECONDS = 120
STORED_ISSUES = 1000  # the OrderImport row keeps this many; the command prints them all


@dataclass
class ImportSummary:
    rows_read: int = 0
    orders_in_file: int = 0
    orders_created: int = 0
    already_imported: int = 0
    matched_existing_profiles: int = 0
    new_profiles: int = 0
    skipped_rows: int = 0
    skipped_orders: int = 0
    awaiting_processing: int = 0
    issues: list[RowIssue] = field(default_factory=list)

    @property
    def warnings(self) -> int:
        return sum(1 for i in self.issues if i.severity == WARNING)

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity == ERROR)

    def as_dict(self) -> dict[str, int]:
        return {
            "rows_read": self.rows_read,
            "orders_in_file": self.orders_in_file,
            "orders_created": self.orders_created,
            "already_imported": self.already_imported,
            "matched_existing_profiles": self.matched_existing_profiles,
            "new_profiles": self.new_profiles,
            "skipped_rows": self.skipped_rows,
            "skipped_orders": self.skipped_orders,
            "errors": self.errors,
            "warnings": self.warnings,
            "awaiting_processing": self.awaiting_processing,
        }


def source_get(*, source: Source | str) -> Source:
    if isinstance(source, Source):
        return source
    found = Source.objects.filter(name=source).first()
    if found is None:
        names = ", ".join(Source.objects.values_list("name", flat=True)) or "none yet"
        raise ImportFailed(
            f"source: unknown source {source!r} (sources: {names}); "
            f"create it with `python manage.py create_source {source}` or in the admin"
        )
    return found


def orders_import(
    *,
    path_or_file: str | Path | IO[Any],
    format: str,
    source: Source | str,
    mapping: dict[str, Any] | None = None,
    progress: Progress | None = None,
    default_currency: str = "",
    encoding: str = "utf-8-sig",
) -> ImportSummary:
    """Import one order file. Raises ImportFailed when the file as a whole cannot be used."""
    source_obj = source_get(source=source)
    if format not in FORMATS:
        raise ImportFailed(f"format: {format!r} is not one of {', '.join(FORMATS)}")
    if mapping and format != ImportFormat.CSV:
        raise ImportFailed("mapping: only the csv format takes a column mapping")
    if mapping is not None and not isinstance(mapping, dict):
        raise ImportFailed('mapping: must be a JSON object such as {"order_id": "Order Number"}')
    if default_currency:
        try:
            default_currency = parse_currency(default_currency, "currency")
        except FieldError as exc:
            raise ImportFailed(str(exc))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportFailed(f"encoding: unknown encoding {encoding!r}")

    with _text_stream(path_or_file, encoding) as stream:
        try:
            if format == ImportFormat.AMAZON:
                read = read_amazon(stream, default_currency=default_currency, progress=progress)
            elif format == ImportFormat.CSV:
                read = read_csv(stream, mapping=mapping, default_currency=default_currency, progress=progress)
            else:
                read = read_jsonl(stream, default_currency=default_currency, progress=progress)
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                f"the file is not {encoding} text (byte {exc.start}: {exc.reason}); "
                "save it as UTF-8 or give its encoding"
            )
    return _ingest_all(read, source_obj)


@contextmanager
def _text_stream(path_or_file: str | Path | IO[Any], encoding: str) -> Iterator[IO[str]]:
    if isinstance(path_or_file, str | Path):
        path = Path(path_or_file)
        if not path.is_file():
            raise ImportFailed(f"file: {path} does not exist or is not a file")
        try:
            handle = path.open(encoding=encoding, newline="")
        except OSError as exc:
            raise ImportFailed(f"file: cannot read {path}: {exc.strerror}")
        with handle:
            yield handle
        return
    head = path_or_file.read(0)
    if isinstance(head, str):
        yield path_or_file  # already text
        return
    path_or_file.seek(0)
    # Uploaded files are file-like but not always io.BufferedIOBase; read them as a buffer.
    yield io.TextIOWrapper(io.BytesIO(path_or_file.read()), encoding=encoding, newline="")


def _ingest_all(read: ReadResult, source: Source) -> ImportSummary:
    summary = ImportSummary(
        rows_read=read.rows_read,
        orders_in_file=len(read.orders) + read.skipped_orders,
        skipped_rows=read.skipped_rows,
        skipped_orders=read.skipped_orders,
        issues=list(read.issues),
    )
    started = timezone.now()
    created_ids: list[str] = []
    for start in range(0, len(read.orders), CHUNK_ORDERS):
        created_ids += _ingest_chunk(read.orders[start : start + CHUNK_ORDERS], source, summary)
    _await_processing(source, created_ids, summary)
    _count_profiles(source, created_ids, started, summary)
    summary.issues.sort(key=lambda i: i.line)
    return summary


def _ingest_chunk(orders: list[ParsedOrder], source: Source, summary: ImportSummary) -> list[str]:
    ids = [track_message_id(source.name, o.order_id) for o in orders]
    existing = set(
        Event.objects.filter(source=source, message_id__in=ids).values_list("message_id", flat=True)
    )
    messages: list[dict[str, Any]] = []
    owner: list[int] = []  # message index -> order index in this chunk
    for index, order in enumerate(orders):
        if ids[index] in existing:
            summary.already_imported += 1
            continue
        for message in order_messages(order, source_name=source.name):
            messages.append(message)
            owner.append(index)
    if not messages:
        return []
    result = ingest_messages(messages, source=source)
    rejected: set[int] = set()
    for rejection in result.rejected:
        index = owner[rejection.index]
        if index not in rejected:
            rejected.add(index)
            order = orders[index]
            summary.issues.append(RowIssue(order.line, f"not accepted: {rejection.reason}", order.order_id))
            summary.skipped_orders += 1
            summary.skipped_rows += len(order.lines) or 1
    created = [ids[i] for i in sorted(set(owner)) if i not in rejected]
    summary.orders_created += len(created)
    return created


def _await_processing(source: Source, message_ids: list[str], summary: ImportSummary) -> None:
    """Resolve the imported events now; if a worker holds the processor lock, wait for it."""
    deadline = time.monotonic() + PROCESSING_WAIT_SECONDS
    while True:
        events_process_pending()
        pending = sum(
            Event.objects.filter(source=source, message_id__in=chunk, processed_at__isnull=True).count()
            for chunk in _chunks(message_ids)
        )
        if not pending or time.monotonic() > deadline:
            summary.awaiting_processing = pending
            return
        time.sleep(0.2)


def _count_profiles(source: Source, message_ids: list[str], started: Any, summary: ImportSummary) -> None:
    profile_of: list[int] = []
    for chunk in _chunks(message_ids):
        profile_of += [
            pid
            for pid in Event.objects.filter(
                source=source, message_id__in=chunk, profile__isnull=False
            ).values_list("profile_id", flat=True)
        ]
    created_at: dict[int, Any] = {}
    for chunk in _chunks(sorted(set(profile_of))):
        created_at.update(Profile.objects.filter(pk__in=chunk).values_list("pk", "created_at"))
    summary.matched_existing_profiles = sum(1 for pid in profile_of if created_at[pid] < started)
    summary.new_profiles = sum(1 for at in created_at.values() if at >= started)


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), QUERY_CHUNK):
        yield items[start : start + QUERY_CHUNK]


@transaction.atomic
def order_import_record(
    *,
    source: Source,
    format: str,
    file_name: str,
    summary: ImportSummary,
    created_by: User | None = None,
    order_import: OrderImport | None = None,
) -> OrderImport:
    """Keep what an import did on its OrderImport row (created here unless the admin made one)."""
    record = order_import or OrderImport(source=source, format=format)
    record.file_name = file_name[:255]
    record.summary = summary.as_dict()
    record.errors = [i.as_dict() for i in summary.issues[:STORED_ISSUES]]
    if len(summary.issues) > STORED_ISSUES:
        record.summary["issues_not_stored"] = len(summary.issues) - STORED_ISSUES
    if created_by is not None:
        record.created_by = created_by
    record.save()
    return record
