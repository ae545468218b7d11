"""Importing generic CSV exports (with a column mapping) and JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tracking.imports import ImportFailed, orders_import
from tracking.ingest import ingest_messages
from tracking.models import Event, Identity, Profile, Source
from tracking.processing import events_process_pending

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
MAPPING = json.loads((DATA / "orders_de_mapping.json").read_text())


@pytest.fixture
def shop(db) -> Source:
    return Source.objects.create(name="shop")


def _orders() -> dict[str, Event]:
    return {e.properties["order_id"]: e for e in Event.objects.filter(name="Order Completed")}


def test_csv_with_a_mapping_semicolons_and_decimal_commas_is_imported(shop):
    summary = orders_import(
        path_or_file=DATA / "orders_de.csv",
        format="csv",
        source=shop,
        mapping=MAPPING,
        default_currency="eur",
    )

    orders = _orders()
    assert sorted(orders) == ["1001", "1004"]
    lena = orders["1001"].properties
    assert lena["products"] == [
        {"product_id": "MUG-1", "sku": "MUG-1", "name": "Tasse", "price": 12.5, "quantity": 2},
        {"product_id": "FLT-100", "sku": "FLT-100", "name": "Filter; 100 Stück", "price": 6.0, "quantity": 1},
    ]
    assert (lena["revenue"], lena["shipping"], lena["coupon"], lena["currency"]) == (
        31.0,
        4.9,
        "HERBST",
        "EUR",
    )
    assert orders["1001"].timestamp == datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    # The row without a currency takes the default given to the import.
    assert orders["1004"].properties["currency"] == "EUR"
    assert orders["1004"].profile.identities.filter(kind="phone", value="+436601234567").exists()
    assert [(i.line, i.reason) for i in summary.issues] == [
        (3, "purchased_at: '31.02.2026' is not a date"),
        (5, "price: 'abc' is not a number"),
    ]
    assert (summary.rows_read, summary.orders_created, summary.skipped_rows) == (5, 2, 2)


def test_csv_without_a_currency_or_a_default_reports_the_row(shop):
    summary = orders_import(path_or_file=DATA / "orders_de.csv", format="csv", source=shop, mapping=MAPPING)
    assert (6, "currency: missing (add the column or give a default currency)") in [
        (i.line, i.reason) for i in summary.issues
    ]
    assert sorted(_orders()) == ["1001"]


def test_csv_columns_are_found_under_common_names_without_a_mapping(shop, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Order Number,Created At,Email,SKU,Lineitem name,Lineitem price,Lineitem quantity,Currency,Discount Code\n"
        "#1001,2026-09-30T10:00:00Z,ana@example.com,SKU-1,Mug,10.00,3,USD,FALL\n"
    )
    summary = orders_import(path_or_file=path, format="csv", source=shop)
    order = _orders()["#1001"]
    assert summary.orders_created == 1
    assert (order.properties["revenue"], order.properties["coupon"]) == (30.0, "FALL")
    assert order.properties["products"][0]["name"] == "Mug"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"order_number": "Bestellnummer"}, "mapping: unknown field(s) order_number"),
        ({**MAPPING, "price": "Preis"}, "mapping.price: column 'Preis' is not in the header"),
        (None, "line 1: no column for order_id, purchased_at, price, sku (or product_id or product_name)"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_field(shop, mapping, message):
    with pytest.raises(ImportFailed) as failed:
        orders_import(path_or_file=DATA / "orders_de.csv", format="csv", source=shop, mapping=mapping)
    assert message in str(failed.value)
    assert not Event.objects.exists()


def test_json_lines_are_imported_and_bad_lines_reported_by_number(shop):
    web = Source.objects.create(name="web")
    ingest_messages([{"type": "identify", "userId": "u-lena", "traits": {"plan": "gold"}}], source=web)
    events_process_pending()
    lena = Profile.objects.get()

    summary = orders_import(path_or_file=DATA / "orders.jsonl", format="jsonl", source=shop)

    orders = _orders()
    assert sorted(orders) == ["W-1", "W-2", "W-8"]
    assert orders["W-1"].profile_id == lena.pk and summary.matched_existing_profiles == 1
    w1 = orders["W-1"].properties
    assert (w1["revenue"], w1["tax"], w1["discount"], w1["coupon"]) == (23.0, 3.99, 2.0, "WELCOME")
    assert w1["products"][0]["category"] == "Kitchen"
    # A Segment track message as a line: properties, context traits and external ids are read.
    w2 = orders["W-2"]
    assert (w2.properties["revenue"], w2.properties["currency"]) == (150.0, "BRL")
    assert w2.timestamp == datetime(2026, 10, 6, 12, 0, tzinfo=UTC)
    assert set(w2.profile.identities.values_list("kind", "value")) >= {
        ("anonymous_id", "anon-77"),
        ("phone", "+5511912345678"),
        ("external", "B-77"),
    }
    reasons = [(i.line, i.severity, i.reason.split(" (")[0]) for i in summary.issues]
    assert reasons == [
        (3, "error", "not valid JSON"),
        (4, "error", "order_id: missing"),
        (6, "error", "products[1].price: 'free' is not a number"),
        (7, "error", "order_id: W-1 already on line 1"),
        (8, "error", "currency: 'XYZ' is not an ISO 4217 currency code"),
        (9, "warning", "traits.email: 'not-an-email' is not a valid email; order imported without it"),
    ]
    assert (summary.rows_read, summary.orders_created, summary.skipped_rows, summary.new_profiles) == (
        8,
        3,
        5,
        2,
    )


def test_reimporting_json_lines_changes_nothing(shop):
    orders_import(path_or_file=DATA / "orders.jsonl", format="jsonl", source=shop)
    before = (Event.objects.count(), Profile.objects.count(), Identity.objects.count())
    again = orders_import(path_or_file=DATA / "orders.jsonl", format="jsonl", source=shop)
    assert (Event.objects.count(), Profile.objects.count(), Identity.objects.count()) == before
    assert (again.orders_created, again.already_imported) == (0, 3)


def test_command_takes_the_mapping_from_a_file_and_refuses_bad_options(shop):
    out = StringIO()
    call_command(
        "import_orders",
        str(DATA / "orders_de.csv"),
        "--format=csv",
        "--source=shop",
        f"--mapping={DATA / 'orders_de_mapping.json'}",
        "--currency=EUR",
        "--no-progress",
        stdout=out,
        stderr=StringIO(),
    )
    assert "Orders created: 2" in out.getvalue()

    with pytest.raises(CommandError, match="--source: required for the csv and jsonl formats"):
        call_command("import_orders", str(DATA / "orders_de.csv"), "--format=csv", "--no-progress")
    with pytest.raises(CommandError, match="--mapping: not valid JSON"):
        call_command(
            "import_orders", str(DATA / "orders_de.csv"), "--format=csv", "--source=shop", "--mapping={nope"
        )
    with pytest.raises(CommandError, match="currency: 'EUX' is not an ISO 4217 currency code"):
        call_command(
            "import_orders", str(DATA / "orders.jsonl"), "--format=jsonl", "--source=shop", "--currency=EUX"
        )


def test_a_file_in_another_encoding_is_refused_clearly_and_read_when_the_encoding_is_given(shop, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "order_id,date,sku,price,currency,customer_name\n7,2026-10-01,S,5.00,EUR,Jürgen\n".encode("latin-1")
    )
    with pytest.raises(
        ImportFailed, match="the file is not utf-8-sig text .*save it as UTF-8 or give its encoding"
    ):
        orders_import(path_or_file=path, format="csv", source=shop)
    summary = orders_import(path_or_file=path, format="csv", source=shop, encoding="latin-1")
    assert summary.orders_created == 1
    assert Profile.objects.get().traits["name"] == "Jürgen"
