"""Importing Amazon order reports: orders become Order Completed events on the right profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tracking.imports import ImportFailed, orders_import
from tracking.ingest import ingest_messages
from tracking.models import Event, Identity, OrderImport, Profile, Source
from tracking.processing import events_process_pending

pytestmark = pytest.mark.django_db
REPORT = Path(__file__).parent / "data" / "amazon_orders.txt"


@pytest.fixture
def amazon(db) -> Source:
    return Source.objects.create(name="amazon")


def _orders() -> dict[str, Event]:
    return {e.properties["order_id"]: e for e in Event.objects.filter(name="Order Completed")}


def test_each_order_becomes_one_order_completed_event_following_the_ecommerce_spec(amazon):
    summary = orders_import(path_or_file=REPORT, format="amazon", source="amazon")

    orders = _orders()
    assert sorted(orders) == [
        "111-2222222-0000002",
        "302-1111111-0000001",
        "302-1111111-0000005",
        "503-3333333-0000008",
    ]
    assert summary.orders_created == 4 and summary.rows_read == 10
    first = orders["302-1111111-0000001"]
    assert first.source == amazon and first.message_id == "order:amazon:302-1111111-0000001"
    assert first.timestamp == datetime(2026, 9, 1, 10, 15, tzinfo=UTC)
    props = first.properties
    # Two rows of the report form one order; item-price is the row total for its quantity.
    assert props["products"] == [
        {
            "product_id": "B0V6000001",
            "sku": "KIT-V60",
            "name": 'Ceramic Pour-Over "V60" Set',
            "price": 29.9,
            "quantity": 2,
        },
        {
            "product_id": "B0FLT00001",
            "sku": "FLT-100",
            "name": "Paper filters 100",
            "price": 6.5,
            "quantity": 1,
        },
    ]
    assert (props["revenue"], props["tax"], props["shipping"], props["discount"]) == (61.3, 12.6, 4.99, 5.0)
    assert (props["currency"], props["coupon"], props["affiliation"]) == ("EUR", "AUTUMN5", "Amazon.de")
    assert props["total"] == 78.89
    # "2026-09-03 07:35:42 PST" (older reports) is read with its zone.
    assert orders["111-2222222-0000002"].timestamp == datetime(2026, 9, 3, 15, 35, 42, tzinfo=UTC)
    assert orders["503-3333333-0000008"].properties["currency"] == "JPY"


def test_order_lands_on_the_existing_profile_with_the_same_email(amazon):
    web = Source.objects.create(name="web")
    result = ingest_messages(
        [{"type": "identify", "userId": "u-anna", "traits": {"email": "Anna.Schmidt@example.com"}}],
        source=web,
    )
    assert not result.rejected
    events_process_pending()
    anna = Profile.objects.get()

    summary = orders_import(path_or_file=REPORT, format="amazon", source=amazon)

    assert _orders()["302-1111111-0000001"].profile_id == anna.pk
    assert summary.matched_existing_profiles == 1
    assert summary.new_profiles == 3
    anna.refresh_from_db()
    assert anna.traits["name"] == "Anna Schmidt" and anna.country == "DE"
    assert set(anna.identities.values_list("kind", "namespace", "value")) >= {
        ("user_id", "", "u-anna"),
        ("email", "", "anna.schmidt@example.com"),
        ("phone", "", "+49301234567"),
        ("external", "amazon_buyer_email", "anna.schmidt@example.com"),
    }


def test_reimporting_the_same_report_changes_nothing(amazon):
    orders_import(path_or_file=REPORT, format="amazon", source=amazon)
    before = (Event.objects.count(), Profile.objects.count(), Identity.objects.count())

    again = orders_import(path_or_file=REPORT, format="amazon", source=amazon)

    assert (Event.objects.count(), Profile.objects.count(), Identity.objects.count()) == before
    assert (again.orders_created, again.already_imported, again.new_profiles) == (0, 4, 0)


def test_bad_rows_are_reported_by_line_and_the_rest_is_imported(amazon):
    summary = orders_import(path_or_file=REPORT, format="amazon", source=amazon)

    issues = [(i.line, i.severity, i.reason) for i in summary.issues]
    assert issues == [
        (5, "error", "purchase-date: 'yesterday-ish' is not a date"),
        (6, "error", "amazon-order-id: missing"),
        (7, "error", "item-price: 'twelve' is not a number"),
        (8, "warning", "buyer-email: 'not-an-email' is not a valid email; order imported without it"),
        (9, "error", "currency: 'EUX' is not an ISO 4217 currency code"),
        (10, "skipped", "order-status: Cancelled; only completed sales are imported"),
    ]
    assert (summary.skipped_rows, summary.skipped_orders) == (5, 4)
    # The order with the invalid email is imported on the buyer's phone number.
    fritz = _orders()["302-1111111-0000005"].profile
    assert list(fritz.identities.filter(kind="email")) == []
    assert fritz.identities.filter(kind="phone", value="+4915123456789").exists()


def test_one_bad_row_takes_its_whole_order_out(amazon, tmp_path):
    header = "amazon-order-id\tpurchase-date\tsku\tproduct-name\tquantity\tcurrency\titem-price\tbuyer-email"
    rows = [
        "A-1\t2026-08-01T10:00:00Z\tS1\tOne\t1\tEUR\t10.00\ta@example.com",
        "A-2\t2026-08-01T11:00:00Z\tS1\tOne\t1\tEUR\t10.00\tb@example.com",
        "A-1\t2026-08-01T10:00:00Z\tS2\tTwo\t1\tEUR\t-3\ta@example.com",
    ]
    path = tmp_path / "report.txt"
    path.write_text("\n".join([header, *rows]) + "\n")

    summary = orders_import(path_or_file=path, format="amazon", source=amazon)

    assert sorted(_orders()) == ["A-2"]
    assert [(i.line, i.reason) for i in summary.issues] == [(4, "item-price: -3 is negative")]
    assert (summary.skipped_rows, summary.skipped_orders) == (2, 1)


def test_a_file_that_is_not_an_amazon_report_is_refused_naming_the_missing_columns(amazon, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order,date,price\n1,2026-01-01,3\n")
    with pytest.raises(ImportFailed, match=r"line 1: not an Amazon order report \(is it tab-separated\?\)"):
        orders_import(path_or_file=path, format="amazon", source=amazon)
    assert not Event.objects.exists()


def test_command_prints_the_summary_and_every_bad_row_and_records_the_import(amazon):
    out, err = StringIO(), StringIO()
    call_command("import_orders", str(REPORT), "--format", "amazon", "--no-progress", stdout=out, stderr=err)

    text = out.getvalue()
    assert "Rows read: 10" in text and "Orders created: 4" in text
    assert "New profiles: 4" in text and "Skipped: 5 rows (4 orders)" in text
    assert "line 7 (order 302-1111111-0000004): error: item-price: 'twelve' is not a number" in err.getvalue()
    record = OrderImport.objects.get()
    assert record.source == amazon and record.file_name == "amazon_orders.txt"
    assert record.summary["orders_created"] == 4
    assert {
        "line": 6,
        "order_id": "",
        "severity": "error",
        "reason": "amazon-order-id: missing",
    } in record.errors

    out = StringIO()
    call_command(
        "import_orders", str(REPORT), "--format", "amazon", "--no-progress", stdout=out, stderr=StringIO()
    )
    assert "Already imported: 4" in out.getvalue() and "Orders created: 0" in out.getvalue()


def test_command_refuses_a_missing_file_and_an_unknown_source_clearly(amazon):
    with pytest.raises(CommandError, match="file: /nowhere/report.txt does not exist"):
        call_command("import_orders", "/nowhere/report.txt", "--format", "amazon", "--no-progress")
    with pytest.raises(CommandError, match="source: unknown source 'shopify'"):
        call_command(
            "import_orders", str(REPORT), "--format", "amazon", "--source", "shopify", "--no-progress"
        )
