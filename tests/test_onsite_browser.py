"""On-site messages in a real Chromium, on a shop's page served from another origin than Voyage's
(Voyage over HTTPS, the shop over plain HTTP, as in tests/test_analyticsjs_browser.py), under a
strict Content-Security-Policy on the shop's pages (no inline scripts or styles, no eval, only
Voyage's origin for scripts and requests: docs/onsite.md). The shop's pages load one <script> tag.

What a visitor sees and does is driven with the keyboard and mouse; what the server recorded is
read back from the database after the browser has closed (Playwright's event loop would otherwise
give this thread a second database connection).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from audiences.models import Audience, AudienceKind, AudienceMembership
from journeys.onsite.models import Interaction, Kind, Message, Status, Submission, Trigger, Variant
from journeys.onsite.services import messages_cache_clear, user_id_sign
from tests.browser_servers import Voyage, shop, voyage_https
from tests.tracking_helpers import ingest
from tracking.models import Consent, ContactPoint, Event
from tracking.services.sources import source_create

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "onsite"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

pytestmark = [
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]

# The shop's own styles: they must not reach into the message, and the message's must not leak out.
SHOP_CSS = """
body { font-family: Georgia, serif; margin: 0; padding: 24px; }
h1, h2 { color: rgb(200, 0, 0); font-size: 40px; }
button { background: rgb(0, 128, 0); }
#offer { border: 2px dotted rgb(0, 0, 200); padding: 8px; min-height: 40px; }
.tall { height: 2400px; }
"""

# The shop's own script (allowed by script-src 'self'): its buttons, and a log of CSP violations.
SHOP_JS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
document.addEventListener("click", function (e) {
  var name = e.target && e.target.getAttribute && e.target.getAttribute("data-track");
  if (name && window.voyageOnsite && window.voyageOnsite.track) window.voyageOnsite.track(name);
});
"""

ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle cx="4" cy="4" r="4"/></svg>'

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – Teapot shop</title><link rel="icon" href="/icon.svg">
<link rel="stylesheet" href="/shop.css"><script src="/shop.js"></script>
<script async src="{voyage}/onsite/1/onsite.js" data-write-key="{write_key}"{identity}></script>
</head><body>
<h1>{title}</h1>
<nav><a id="home" href="/">Home</a> <a id="teapot" href="/products/teapot">Teapot</a>
<a id="cup" href="/products/cup">Cup</a> <a id="top" href="#">Top</a></nav>
<button id="add" data-track="Product Added">Add to cart</button>
<button id="checkout" data-track="Checkout Started">Checkout</button>
<div id="offer"></div>
<p class="tall">Our teapots.</p>
</body></html>"""


def _csp(voyage: Voyage) -> str:
    """The directives docs/onsite.md documents, with nothing added for the test."""
    return (
        f"default-src 'self'; script-src 'self' {voyage.url}; connect-src 'self' {voyage.url}; "
        "img-src 'self' https:; style-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


@dataclass
class Shop:
    url: str
    voyage: Voyage
    source: object
    pages: dict[str, str]
    problems: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict]] = field(default_factory=list)


def _pages(voyage: Voyage, write_key: str, identity: str = "") -> dict[str, str]:
    pages = {"/shop.css": SHOP_CSS, "/shop.js": SHOP_JS, "/icon.svg": ICON}
    for path, title in (
        ("/", "Home"),
        ("/products/teapot", "Teapot"),
        ("/products/cup", "Cup"),
        ("/cart", "Cart"),
    ):
        pages[path] = PAGE.format(title=title, voyage=voyage.url, write_key=write_key, identity=identity)
    return pages


@contextmanager
def _servers(*, gap_seconds: int = 0) -> Iterator[Shop]:
    """Voyage over HTTPS and the shop (strict CSP) on another origin; the source allows the shop."""
    old_gap = settings.ONSITE_POPUP_MIN_GAP_SECONDS
    settings.ONSITE_POPUP_MIN_GAP_SECONDS = gap_seconds
    pages: dict[str, str] = {}
    headers: dict[str, str] = {}
    try:
        with voyage_https() as voyage, shop(pages, headers=headers) as shop_url:
            source = source_create(name="teapot-web", allowed_origins=[shop_url])
            pages.update(_pages(voyage, source.write_key))
            headers["Content-Security-Policy"] = _csp(voyage)
            yield Shop(url=shop_url, voyage=voyage, source=source, pages=pages)
    finally:
        settings.ONSITE_POPUP_MIN_GAP_SECONDS = old_gap
        messages_cache_clear()


@contextmanager
def _browser(s: Shop, *, mobile: bool = False) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        options: dict = {"ignore_https_errors": True}
        if mobile:
            options.update(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                           user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile")  # fmt: skip
        else:
            options.update(viewport={"width": 1280, "height": 800})
        context = browser.new_context(**options)
        page = context.new_page()
        page.on(
            "console",
            lambda m: s.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: s.problems.append(f"page error: {e}"))

        def on_request(request) -> None:
            if "/v1/onsite/" in request.url:
                s.requests.append((request.url.rsplit("/", 1)[-1], json.loads(request.post_data or "{}")))

        page.on("request", on_request)
        try:
            yield page
        finally:
            browser.close()


def _visit(page, url: str) -> list[dict]:
    """Open a page and return the messages the decide endpoint answered for it."""
    with page.expect_response(lambda r: r.url.endswith("/v1/onsite/decide")) as answer:
        page.goto(url)
    assert answer.value.status == 200, answer.value.text()
    return answer.value.json()["messages"]


def _message(s: Shop, name: str, *, headline: str = "Ten percent off your first teapot", **fields) -> Message:
    message = Message.objects.create(name=name, source=s.source, status=Status.ACTIVE, **fields)
    Variant.objects.create(
        message=message, arm="A", headline=headline, body="Sign up and we send you the code.",
        coupon_code="TEA10", submit_label="Send me the code", success_text="Check your inbox!",
    )  # fmt: skip
    messages_cache_clear()
    return message


def _interaction(kind: str, message_id: int | None = None) -> Callable[[object], bool]:
    """A predicate for page.expect_request/expect_response: an interaction of this kind (and message)."""

    def check(r) -> bool:
        body = (r.request if hasattr(r, "request") else r).post_data or ""
        mine = message_id is None or f'"messageId":{message_id},' in body
        return r.url.endswith("/v1/onsite/interactions") and f'"kind":"{kind}"' in body and mine

    return check


def _wait(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _in_dialog(page) -> bool:
    """Is keyboard focus inside the message's shadow root?"""
    return page.evaluate(
        "() => { const h = document.querySelector('voyage-onsite');"
        " return !!h && document.activeElement === h && !!h.shadowRoot.activeElement; }"
    )


def _no_problems(page, s: Shop) -> None:
    assert page.evaluate("window.cspViolations") == [], "the snippet broke the shop's CSP"
    assert s.problems == [], s.problems


def test_pop_up_after_three_pages_under_a_strict_csp_traps_focus_and_closes_with_escape():
    with _servers() as s:
        message = _message(
            s, "Welcome offer", kind=Kind.MODAL, trigger=Trigger.PAGES, trigger_pages=3, form_email=True,
            consents=[{"channel": "email", "topic": "marketing", "label": "Email me offers"}],
        )  # fmt: skip
        with _browser(s) as page:
            assert _visit(page, s.url + "/")[0]["id"] == message.pk  # allowed; the trigger waits
            shop_h1 = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
            assert page.locator("voyage-onsite").count() == 0
            _visit(page, s.url + "/products/teapot")
            assert page.locator("voyage-onsite").count() == 0
            with page.expect_response(lambda r: r.url.endswith("/v1/onsite/interactions")):
                _visit(page, s.url + "/products/cup")
            dialog = page.locator("voyage-onsite [role=dialog]")
            dialog.wait_for()
            assert dialog.get_attribute("aria-modal") == "true"
            assert page.locator("voyage-onsite h2").inner_text() == "Ten percent off your first teapot"
            # Rendered inside a shadow root: the shop's h2 rule (red, 40px) does not reach it, and the
            # shop's own heading keeps its colour.
            assert page.evaluate(
                "document.querySelector('voyage-onsite').shadowRoot.querySelector('h2') !== null"
            )
            inner = page.evaluate(
                "getComputedStyle(document.querySelector('voyage-onsite').shadowRoot.querySelector('h2')).color"
            )
            assert inner != "rgb(200, 0, 0)"
            assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") == shop_h1
            # Its stylesheet applied under style-src 'self' (constructed, not inline).
            assert (
                page.evaluate(
                    "getComputedStyle(document.querySelector('voyage-onsite').shadowRoot.querySelector('.wrap'))"
                    ".position"
                )
                == "fixed"
            )
            close = page.locator("voyage-onsite button.close")
            assert close.get_attribute("aria-label") == "Close"
            page.screenshot(path=str(ARTIFACTS / "modal-after-three-pages.png"))

            # Focus starts inside and Tab / Shift+Tab cycle there.
            assert _in_dialog(page)
            for _ in range(7):
                page.keyboard.press("Tab")
                assert _in_dialog(page)
            for _ in range(7):
                page.keyboard.press("Shift+Tab")
                assert _in_dialog(page)

            with page.expect_response(lambda r: r.url.endswith("/v1/onsite/interactions")) as closed:
                page.keyboard.press("Escape")
            assert closed.value.status == 200
            assert page.locator("voyage-onsite").count() == 0
            page.screenshot(path=str(ARTIFACTS / "modal-closed.png"))
            _no_problems(page, s)
    kinds = sorted(Interaction.objects.filter(message=message).values_list("kind", flat=True))
    assert kinds == ["close", "view"]
    names = set(Event.objects.filter(name__startswith="Onsite Message").values_list("name", flat=True))
    assert names == {"Onsite Message Viewed", "Onsite Message Closed"}


def test_form_refuses_a_bad_email_in_the_browser_and_on_the_server_and_a_good_one_records_consent():
    with _servers() as s:
        message = _message(
            s, "Newsletter", kind=Kind.SLIDE_IN, trigger=Trigger.PAGE_LOAD, form_email=True,
            consents=[{"channel": "email", "topic": "marketing", "label": "Email me offers"},
                      {"channel": "email", "topic": "news", "label": "Email me the teapot news"}],
        )  # fmt: skip
        with _browser(s) as page:
            _visit(page, s.url + "/")
            form_email = page.locator("voyage-onsite input[type=email]")
            form_email.wait_for()
            form_email.fill("ada@")
            page.locator("voyage-onsite button.submit").click()
            error = page.locator("voyage-onsite .error")
            assert error.inner_text() == "Please enter a valid email address."
            assert not [r for r in s.requests if r[0] == "submit"]  # refused before sending
            page.screenshot(path=str(ARTIFACTS / "form-bad-email.png"))

            # The server refuses it too (a script on the page can skip the browser's check), naming
            # the field: the same request the snippet sends, from the page, with the bad address.
            body = s.requests[0][1] | {"messageId": message.pk, "arm": "A", "email": "ada@", "consents": []}
            refused = page.evaluate(
                "async ([url, body]) => { const r = await fetch(url, {method: 'POST', body: JSON.stringify(body)});"
                " return [r.status, await r.json()]; }",
                [s.voyage.url + "/v1/onsite/submit", body],
            )
            assert refused == [400, {"success": False, "error": {"email": ["enter a valid email address"]}}]
            _wait(lambda: s.problems, "the console's note of the deliberate 400")
            assert len(s.problems) == 1 and "status of 400" in s.problems[0], s.problems
            s.problems.clear()

            form_email.fill("Ada.Lovelace@Example.com")
            page.locator("voyage-onsite input[value='email:marketing']").check()
            with page.expect_response(lambda r: r.url.endswith("/v1/onsite/submit")) as sent:
                page.locator("voyage-onsite button.submit").click()
            assert sent.value.status == 200, sent.value.text()
            assert page.locator("voyage-onsite [role=status]").inner_text() == "Check your inbox!"
            page.screenshot(path=str(ARTIFACTS / "form-sent.png"))
            _no_problems(page, s)
            anonymous_id = s.requests[-1][1]["anonymousId"]

    def applied():
        return Submission.objects.filter(message=message, status="applied").first()

    submission = _wait(applied, "the submit's consent to be recorded")
    profile = submission.profile
    assert ContactPoint.objects.filter(
        profile=profile, channel="email", address="ada.lovelace@example.com"
    ).exists()
    consents = {(c.channel, c.topic): c for c in Consent.objects.filter(profile=profile)}
    assert set(consents) == {("email", "marketing")}  # only the ticked box
    assert consents[("email", "marketing")].method == "onsite form"
    assert f"on-site message {message.pk}" in consents[("email", "marketing")].detail
    assert profile.identities.filter(kind="anonymous_id", value=anonymous_id).exists()


def test_caps_stop_the_third_showing_across_pages():
    with _servers(gap_seconds=0) as s:
        message = _message(s, "Free shipping", kind=Kind.BAR_TOP, once_per_session=False, max_views=2)
        with _browser(s) as page:
            for number, path in enumerate(("/", "/products/teapot", "/products/cup"), start=1):
                if number < 3:
                    with page.expect_response(lambda r: r.url.endswith("/v1/onsite/interactions")):
                        answered = _visit(page, s.url + path)
                    assert [m["id"] for m in answered] == [message.pk]
                    page.locator("voyage-onsite [role=region]").wait_for()
                    page.screenshot(path=str(ARTIFACTS / f"bar-showing-{number}.png"))
                else:
                    assert _visit(page, s.url + path) == []
                    page.wait_for_load_state("load")
                    assert page.locator("voyage-onsite").count() == 0
            _no_problems(page, s)
    assert Interaction.objects.filter(message=message, kind="view").count() == 2


def test_exit_intent_fires_when_the_pointer_leaves_through_the_top_and_not_on_a_link_click():
    with _servers() as s:
        message = _message(s, "Wait!", headline="Before you go: 10% off", kind=Kind.MODAL,
                           trigger=Trigger.EXIT_INTENT, device="desktop")  # fmt: skip
        with _browser(s) as page:
            assert [m["id"] for m in _visit(page, s.url + "/")] == [message.pk]
            page.wait_for_load_state("load")
            page.mouse.move(600, 400)
            page.click("#top")  # a click on a link is not an exit
            page.mouse.move(600, 200, steps=5)
            assert page.locator("voyage-onsite").count() == 0
            page.mouse.move(600, 5, steps=5)
            page.mouse.move(600, -10, steps=2)  # out through the top, towards the tabs
            page.locator("voyage-onsite [role=dialog]").wait_for()
            page.screenshot(path=str(ARTIFACTS / "exit-intent.png"))
            _no_problems(page, s)


def test_embedded_block_fills_its_selector_and_pop_ups_fit_a_phone():
    with _servers() as s:
        block = _message(s, "Offer block", headline="Teapot of the week", kind=Kind.EMBEDDED,
                         embed_selector="#offer", once_per_session=False)  # fmt: skip
        Variant.objects.filter(message=block).update(cta_label="See the teapot", cta_url="/products/teapot")
        _message(s, "Phone modal", headline="Join the club", kind=Kind.MODAL, form_email=True,
                 url_rules=[{"match": "contains", "value": "/products/"}])  # fmt: skip
        with _browser(s) as page:
            with page.expect_response(_interaction("view", block.pk)):
                _visit(page, s.url + "/")
            page.locator("#offer voyage-onsite h2").wait_for()
            assert page.locator("#offer voyage-onsite h2").inner_text() == "Teapot of the week"
            assert page.locator("body > voyage-onsite").count() == 0  # only the block, in its place
            page.screenshot(path=str(ARTIFACTS / "embedded-block.png"), full_page=True)
            _no_problems(page, s)

            # Its call to action is a link on the shop; the click is recorded as the page moves on, and
            # the next page (it has an #offer too) shows and records the block again.
            with (
                page.expect_request(_interaction("click")),
                page.expect_response(_interaction("view", block.pk)) as viewed,
                page.expect_navigation(),
            ):
                page.locator("#offer voyage-onsite a.cta").click()
            assert viewed.value.status == 200
            assert page.url == s.url + "/products/teapot"
        with _browser(s, mobile=True) as page:
            with page.expect_response(_interaction("view", block.pk)):
                _visit(page, s.url + "/products/teapot")
            box = page.locator("voyage-onsite .box").first
            box.wait_for()
            width = page.evaluate("window.innerWidth")
            bounds = box.bounding_box()
            assert bounds is not None and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= width
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=str(ARTIFACTS / "mobile-modal.png"))
            _no_problems(page, s)
    # Seen on the desktop (twice: the link led to another page with #offer) and once on the phone.
    assert Interaction.objects.filter(message=block, kind="view").count() == 3
    assert Interaction.objects.filter(message=block, kind="click").count() == 1


def test_after_n_seconds_for_an_audience_member_only_and_after_an_unanswered_event():
    with _servers() as s:
        audience = Audience.objects.create(
            slug="teapot-lovers", name="Teapot lovers", kind=AudienceKind.STATIC
        )
        for user_id, name in (("u-member", "Ada"), ("u-other", "Grace")):
            ingest(s.source, {"type": "identify", "messageId": f"m-{user_id}", "userId": user_id,
                              "traits": {"email": f"{user_id}@example.com", "first_name": name}})  # fmt: skip
        member = s.source.events.get(user_id="u-member").profile
        AudienceMembership.objects.create(audience=audience, profile=member, entered_at=timezone.now())
        offer = _message(s, "Category offer", headline="{{ profile.first_name }}, 20% off teapots today",
                         kind=Kind.MODAL, trigger=Trigger.DELAY, trigger_seconds=10, audience=audience,
                         url_rules=[{"match": "equals", "value": "/account"}])  # fmt: skip
        basket = _message(s, "Basket reminder", headline="Your teapot is waiting", kind=Kind.BAR_BOTTOM,
                          trigger=Trigger.EVENT, trigger_event="Product Added",
                          trigger_unless_event="Checkout Started", trigger_wait_minutes=10,
                          url_rules=[{"match": "contains", "value": "/products/"}])  # fmt: skip
        for user_id in ("u-member", "u-other"):
            # The shop's server signs the logged-in user's id (docs/onsite.md) and puts it on the tag.
            identity = f' data-user-id="{user_id}" data-user-id-signature="{user_id_sign(source=s.source, user_id=user_id)}"'
            s.pages[f"/account-{user_id}"] = PAGE.format(
                title="Account", voyage=s.voyage.url, write_key=s.source.write_key, identity=identity
            )
        with _browser(s) as page:
            # The page's clock is Playwright's: timers fire when the test moves it, not by chance.
            page.clock.install()
            # The member sees the offer after 10 s, personalised; a non-member never gets it.
            s.pages["/account"] = s.pages["/account-u-other"]
            assert _visit(page, s.url + "/account") == []
            s.pages["/account"] = s.pages["/account-u-member"]
            assert [m["id"] for m in _visit(page, s.url + "/account")] == [offer.pk]
            page.clock.run_for(9000)
            assert page.locator("voyage-onsite").count() == 0
            with page.expect_response(lambda r: r.url.endswith("/v1/onsite/interactions")):
                page.clock.run_for(1500)
            assert page.locator("voyage-onsite h2").inner_text() == "Ada, 20% off teapots today"
            page.screenshot(path=str(ARTIFACTS / "member-offer-after-10s.png"))
            page.keyboard.press("Escape")

            # Product Added then Checkout Started: answered, nothing shows after 10 minutes.
            assert [m["id"] for m in _visit(page, s.url + "/products/teapot")] == [basket.pk]
            page.click("#add")
            page.clock.run_for(60_000)
            page.click("#checkout")
            page.clock.run_for(11 * 60_000)
            assert page.locator("voyage-onsite").count() == 0
            # Product Added and no checkout: the bar comes 10 minutes later (the session's events
            # carry over to the next page).
            page.click("#add")
            _visit(page, s.url + "/products/cup")
            page.clock.run_for(8 * 60_000)
            assert page.locator("voyage-onsite").count() == 0
            with page.expect_response(lambda r: r.url.endswith("/v1/onsite/interactions")):
                page.clock.run_for(3 * 60_000)
            assert page.locator("voyage-onsite h2").inner_text() == "Your teapot is waiting"
            page.screenshot(path=str(ARTIFACTS / "basket-reminder-bar.png"))
            _no_problems(page, s)
    viewers = Interaction.objects.filter(kind="view").values_list("message_id", "profile_id")
    assert sorted(viewers) == sorted([(offer.pk, member.pk), (basket.pk, member.pk)])
