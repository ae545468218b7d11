"""An operator uploads an order file in the admin and sees the summary and the bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile

from tracking.models import Event, OrderImport, Source

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
ADD_URL = "/admin/tracking/orderimport/add/"


@pytest.fixture
def operator(client) -> User:
    user = User.objects.create_user("olga", password="pw-operator-123", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    return user


def _upload(client, source: Source, name: str, fmt: str, **extra: str):
    upload = SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="text/plain")
    return client.post(
        ADD_URL,
        {"file": upload, "format": fmt, "source": source.pk, "mapping": "", "currency": "", **extra},
        follow=True,
    )


def test_operator_uploads_an_amazon_report_and_sees_summary_and_bad_rows(client, operator):
    amazon = Source.objects.create(name="amazon")
    form = client.get(ADD_URL)
    assert form.status_code == 200 and b"Amazon order report" in form.content

    page = _upload(client, amazon, "amazon_orders.txt", "amazon")

    assert page.status_code == 200
    record = OrderImport.objects.get()
    assert page.redirect_chain[-1][0] == f"/admin/tracking/orderimport/{record.pk}/change/"
    assert (record.created_by, record.file_name, record.summary["orders_created"]) == (
        operator,
        "amazon_orders.txt",
        4,
    )
    assert Event.objects.filter(name="Order Completed").count() == 4
    html = page.content.decode()
    assert "4 orders imported, 0 already imported, 5 rows skipped." in html
    assert "Orders matched to existing profiles" in html
    assert "<td>7</td>" in html and "item-price: &#x27;twelve&#x27; is not a number" in html
    assert "imported without this value" in html  # the invalid email on line 8

    again = _upload(client, amazon, "amazon_orders.txt", "amazon")
    assert "0 orders imported, 4 already imported" in again.content.decode()
    assert Event.objects.filter(name="Order Completed").count() == 4


def test_csv_upload_takes_a_mapping_and_a_bad_mapping_is_a_form_error(client, operator):
    shop = Source.objects.create(name="shop")
    bad = _upload(client, shop, "orders_de.csv", "csv", mapping="{not json")
    assert bad.status_code == 200 and "Not valid JSON" in bad.content.decode()
    assert not OrderImport.objects.exists()

    page = _upload(
        client,
        shop,
        "orders_de.csv",
        "csv",
        mapping=(DATA / "orders_de_mapping.json").read_text(),
        currency="EUR",
    )
    assert OrderImport.objects.get().summary["orders_created"] == 2
    assert "purchased_at: &#x27;31.02.2026&#x27; is not a date" in page.content.decode()


def test_a_file_that_cannot_be_imported_is_shown_as_failed_not_a_server_error(client, operator):
    amazon = Source.objects.create(name="amazon")
    page = _upload(client, amazon, "orders.jsonl", "amazon")
    assert page.status_code == 200
    html = page.content.decode()
    assert "The file could not be imported" in html and "not an Amazon order report" in html
    assert "failed" in OrderImport.objects.get().summary
    assert not Event.objects.exists()


def test_an_import_record_is_read_only_and_marketers_cannot_upload(client, operator):
    amazon = Source.objects.create(name="amazon")
    _upload(client, amazon, "amazon_orders.txt", "amazon")
    record = OrderImport.objects.get()
    page = client.get(f"/admin/tracking/orderimport/{record.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content

    marketer = User.objects.create_user("mia", password="pw-marketer-123", is_staff=True)
    marketer.groups.add(Group.objects.get(name="marketer"))
    client.force_login(marketer)
    assert client.get(ADD_URL).status_code == 403
    assert client.get(f"/admin/tracking/orderimport/{record.pk}/change/").status_code == 200
