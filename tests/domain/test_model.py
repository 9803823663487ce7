"""What the database itself refuses, and the checks around the model."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from refundtool.models import Refund, RefundItem, RefundTransition
from tests.domain.factories import new_refund

pytestmark = pytest.mark.django_db


def refused_by_the_database(write) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", Decimal("0")), ("amount", Decimal("-1")), ("delivery_amount", Decimal("-0.01")), ("sequence", 0)],
)
def test_amounts_are_positive_and_sequences_start_at_one(field, value):
    refund = new_refund()
    refused_by_the_database(lambda: Refund.objects.filter(pk=refund.id).update(**{field: value}))


def test_the_status_is_a_known_state_even_for_a_raw_update():
    refund = new_refund()
    refused_by_the_database(lambda: Refund.objects.filter(pk=refund.id).update(status="lost"))


def test_the_status_cannot_be_assigned():
    refund = new_refund()
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        refund.status = "completed"


def test_an_item_id_appears_once_per_refund_with_a_positive_quantity_and_price():
    refund = new_refund()
    item = refund.items.first()
    fields = {"sku": "S", "name": "N", "quantity": 1, "unit_price": Decimal("1.00"), "vat_rate": "22", "reason": "r"}
    refused_by_the_database(lambda: RefundItem.objects.create(refund=refund, **{**fields, "item_id": item.item_id}))
    refused_by_the_database(
        lambda: RefundItem.objects.create(refund=refund, **{**fields, "item_id": "x", "quantity": 0})
    )
    refused_by_the_database(
        lambda: RefundItem.objects.create(refund=refund, **{**fields, "item_id": "y", "unit_price": Decimal("0")})
    )


def test_a_refund_request_id_is_used_once():
    refund = new_refund()
    same_request = {k: v for k, v in Refund.objects.filter(pk=refund.id).values().get().items() if k != "id"}
    refused_by_the_database(lambda: Refund.objects.create(**same_request))


def test_two_audit_rows_cannot_claim_the_same_sequence():
    refund = new_refund()
    first = RefundTransition.objects.filter(refund=refund).first()
    duplicate = {
        "refund": refund,
        "sequence": first.sequence,
        "transition": "x",
        "target": "requested",
        "actor_kind": "system",
        "actor_id": "test",
    }
    refused_by_the_database(lambda: RefundTransition.objects.create(**duplicate))


def test_audit_rows_are_append_only():
    row = RefundTransition.objects.filter(refund=new_refund()).first()
    with pytest.raises(IntegrityError, match="append-only"):
        row.save()
    with pytest.raises(IntegrityError, match="append-only"):
        row.delete()


def test_a_refund_with_history_cannot_be_deleted():
    refund = new_refund()
    with pytest.raises(ProtectedError):
        refund.delete()
    assert Refund.objects.filter(pk=refund.id).exists()


def test_serving_a_country_the_table_does_not_know_fails_the_system_check(settings):
    settings.REFUNDTOOL_COUNTRIES = ["RU", "DE"]
    errors = [message for message in run_checks() if message.id == "refundtool.E001"]
    assert [e.msg for e in errors] == ["REFUNDTOOL_COUNTRIES names DE, which refundtool.countries does not know"]


def test_the_served_countries_pass_the_system_check():
    assert [m for m in run_checks() if m.id == "refundtool.E001"] == []


def test_refund_new_builds_what_the_plain_constructor_builds():
    # Refund.new passes every value by position (Model.__init__'s fast path) for the consumer's batches.
    values = {
        "refund_request_id": uuid.uuid4(),
        "request_fingerprint": "f" * 64,
        "order_number": "ORD-1",
        "country": "RU",
        "currency": "RUB",
        "amount": Decimal("10.00"),
        "payment_id": "pay-1",
        "payment_method": "card",
        "customer_email": "a@example.com",
        "requested_at": datetime(2026, 3, 1, tzinfo=UTC),
        "status_changed_at": datetime(2026, 3, 1, 1, tzinfo=UTC),
    }
    fast, plain = Refund.new(**values), Refund(**values)
    for field in Refund._meta.concrete_fields:
        if field.name != "id":  # a fresh uuid4 each
            assert getattr(fast, field.attname) == getattr(plain, field.attname), field.name
    with pytest.raises(TypeError, match="no fields colour"):
        Refund.new(colour="red")
