"""Loading the demo store: users, sources, shoppers' events, an Amazon import, consent, then the upper floors.

Everything goes through the same path as real data (ingest_messages + events_process_pending for
events, the order importer for Amazon, consent_set for consent), in the order it happened, so the
profiles, merges and matches the demo shows are the ones Voyage itself made.
"""

from __future__ import annotations

import importlib
import os
import random
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from tracking.demo.sessions import AMAZON_HEADER, Timeline, shopper_timeline
from tracking.demo.shoppers import Shopper, shoppers_generate
from tracking.imports import ImportSummary, order_import_record, orders_import
from tracking.ingest import ingest_messages
from tracking.models import Event, Identity, IdentityKind, OrderImport, Profile, ProfileMerge, Source
from tracking.processing import events_process_pending
from tracking.services.profiles import consent_set, profile_erase

SOURCES = ("web", "ios", "amazon")
# Each may offer <app>.demo.load_demo(*, stdout); in this order (reports last: they sum what the others did).
UPPER_FLOORS = ("audiences", "channels", "journeys", "journeys.onsite", "journeys.reports")
DEMO_USERS = (
    ("admin", None),
    ("operator", "operator"),
    ("designer", "journey designer"),
    ("marketer", "marketer"),
)
INGEST_CHUNK = 2000
# Events are ingested and resolved in windows of this many days; app logins come later than one window
# after the app's anonymous session, so those profiles exist separately and ID-Mapping must merge them.
WINDOW_DAYS = 3
MARKER_PREFIX = "demo-"  # messageIds of demo events; their presence means the demo is loaded


def password_file_default() -> Path:
    return Path(os.environ.get("VOYAGE_DEMO_PASSWORD_FILE", settings.BASE_DIR / ".demo-admin-password"))


@dataclass
class DemoResult:
    loaded: bool = False  # False when the demo was already there
    password: str | None = None
    password_file: Path | None = None
    users: list[str] = field(default_factory=list)
    new_users: list[str] = field(default_factory=list)
    shoppers: int = 0
    events: int = 0
    merges: int = 0
    amazon: ImportSummary | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # per phase, for the closing report


def demo_users_ensure(*, password_file: Path) -> DemoResult:
    """The demo's admin and one user per role, sharing one generated password kept outside git."""
    result = DemoResult(password_file=password_file)
    if password_file.exists():
        result.password = password_file.read_text().strip()
    for username, role in DEMO_USERS:
        result.users.append(username)
        if User.objects.filter(username=username).exists():
            continue
        if result.password is None:
            result.password = secrets.token_urlsafe(12)
            password_file.write_text(result.password + "\n")
            password_file.chmod(0o600)
        if role is None:
            User.objects.create_superuser(username, f"{username}@example.com", result.password)
        else:
            user = User.objects.create_user(
                username, f"{username}@example.com", result.password, is_staff=True
            )
            user.groups.add(Group.objects.get(name=role))
        result.new_users.append(username)
    return result


def demo_loaded() -> bool:
    return Event.objects.filter(source__name="web", message_id__startswith=MARKER_PREFIX).exists()


def demo_reset(*, stdout: TextIO) -> None:
    """Remove the demo's events, imports and the profiles left without events (erased properly)."""
    demo_events = Event.objects.filter(source__name__in=SOURCES)
    profile_ids = set(demo_events.exclude(profile=None).values_list("profile_id", flat=True))
    demo_events.delete()
    OrderImport.objects.filter(source__name__in=SOURCES).delete()
    orphans = Profile.objects.filter(pk__in=profile_ids, events__isnull=True)
    count = 0
    for profile in orphans.iterator():
        profile_erase(profile=profile)
        count += 1
    stdout.write(f"Removed the demo's events and {count} profiles.\n")


def demo_load(
    *,
    shoppers: int = 3000,
    seed: int = 7,
    stdout: TextIO,
    progress: bool = True,
    password_file: Path | None = None,
    now: datetime | None = None,
) -> DemoResult:
    result = demo_users_ensure(password_file=password_file or password_file_default())
    sources = {name: Source.objects.get_or_create(name=name)[0] for name in SOURCES}
    if demo_loaded():
        stdout.write("The demo store is already loaded (use --reset to load it again).\n")
    else:
        _tracking_load(
            result,
            sources,
            shoppers=shoppers,
            seed=seed,
            now=now or timezone.now(),
            progress=progress,
            stdout=stdout,
        )
        result.loaded = True
    behaviour_settings_ensure()
    for app in UPPER_FLOORS:
        with _timed(result, app):
            _upper_floor_load(app, stdout)
    return result


def behaviour_settings_ensure() -> None:
    """The search synonyms the demo's messy queries need ("coldbrew" → "cold brew"); idempotent."""
    from tracking.analytics.models import SearchSynonym
    from tracking.demo.behaviour import SYNONYMS

    for term, keyword in SYNONYMS.items():
        SearchSynonym.objects.get_or_create(term=term, defaults={"keyword": keyword})


def _tracking_load(
    result: DemoResult,
    sources: dict[str, Source],
    *,
    shoppers: int,
    seed: int,
    now: datetime,
    progress: bool,
    stdout: TextIO,
) -> None:
    started = time.monotonic()
    rng = random.Random(seed)
    people = shoppers_generate(rng=rng, count=shoppers, now=now)
    timelines = [shopper_timeline(s, rng=rng, now=now) for s in people]
    # Chronological, as it would have arrived: later identifies find the profiles earlier events made.
    stream = sorted(
        ((at, m) for t in timelines for at, m in t.messages),
        key=lambda pair: pair[0],
    )
    with tqdm(
        total=len(stream), desc="Demo events", unit=" events", disable=not progress, file=stdout
    ) as bar:
        for chunk in _window_chunks(stream):
            by_source: dict[str, list[dict[str, Any]]] = {}
            for _, message in chunk:
                by_source.setdefault("ios" if "app" in message["context"] else "web", []).append(message)
            for name, messages in by_source.items():
                ingested = ingest_messages(messages, source=sources[name])
                if ingested.rejected:
                    raise RuntimeError(f"demo messages rejected: {ingested.rejected[:3]}")
            events_process_pending()
            bar.update(len(chunk))
    result.seconds["events"] = time.monotonic() - started
    result.events = len(stream)
    with _timed(result, "amazon import"):
        result.amazon = _amazon_import(timelines, sources["amazon"])
    with _timed(result, "consent"):
        _consent_load(people)
    with _timed(result, "acquisition"):
        from tracking.demo.acquisition import acquisition_demo_load

        acquisition_demo_load(shoppers=people, now=now, stdout=stdout)
    result.shoppers = len(people)
    result.merges = ProfileMerge.objects.count()


def _window_chunks(
    stream: list[tuple[datetime, dict[str, Any]]],
) -> Iterator[list[tuple[datetime, dict[str, Any]]]]:
    """A few days at a time (split when big), each resolved before the next arrives, as in real life."""
    chunk: list[tuple[datetime, dict[str, Any]]] = []
    for item in stream:
        window = item[0].toordinal() // WINDOW_DAYS
        if chunk and (len(chunk) >= INGEST_CHUNK or window != chunk[-1][0].toordinal() // WINDOW_DAYS):
            yield chunk
            chunk = []
        chunk.append(item)
    if chunk:
        yield chunk


def _amazon_import(timelines: list[Timeline], source: Source) -> ImportSummary:
    rows = [row for t in timelines for row in t.amazon_rows]
    with tempfile.TemporaryDirectory(prefix="voyage-demo-") as folder:
        path = Path(folder) / "amazon-orders.txt"
        lines = ["\t".join(AMAZON_HEADER)] + ["\t".join(row) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        summary = orders_import(path_or_file=path, format="amazon", source=source)
    order_import_record(source=source, format="amazon", file_name="demo-amazon-orders.txt", summary=summary)
    return summary


def _consent_load(people: list[Shopper]) -> None:
    with_consent = [s for s in people if s.consent]
    profile_of = dict(
        Identity.objects.filter(
            kind=IdentityKind.USER_ID, value__in=[s.user_id for s in with_consent]
        ).values_list("value", "profile_id")
    )
    profiles = Profile.objects.in_bulk(set(profile_of.values()))
    # One transaction: thousands of small commits (each a WAL flush) would dominate the demo's load time.
    with transaction.atomic():
        for shopper in with_consent:
            profile = profiles.get(profile_of.get(shopper.user_id, -1))
            if profile is None:
                continue
            for channel, consent in shopper.consent.items():
                consent_set(
                    profile=profile,
                    channel=channel,
                    granted=True,
                    method="form",
                    detail="sign-up form",
                    at=consent.granted_at,
                )
                if consent.withdrawn_at:
                    consent_set(
                        profile=profile,
                        channel=channel,
                        granted=False,
                        method="sms_keyword" if channel == "sms" else "unsubscribe_link",
                        detail="STOP" if channel == "sms" else "footer link in a newsletter",
                        at=consent.withdrawn_at,
                    )


@contextmanager
def _timed(result: DemoResult, phase: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    result.seconds[phase] = time.monotonic() - started


def _upper_floor_load(app: str, stdout: TextIO) -> None:
    """Call <app>.demo.load_demo(stdout=...) when that app offers one; tracking imports no upper floor."""
    try:
        module = importlib.import_module(f"{app}.demo")
    except ModuleNotFoundError as exc:
        if exc.name in (f"{app}.demo", app):
            return
        raise
    loader = getattr(module, "load_demo", None)
    if callable(loader):
        loader(stdout=stdout)
