from datetime import datetime
from decimal import Decimal
from uuid import UUID

import pytest

from events.contracts import dtos
from events.contracts.specification import all_event_specs
from tests.events_spec.samples import sample_data


# The samples are of version 1; the shared vectors prove every version (test_vectors.py).
@pytest.mark.parametrize("spec", [s for s in all_event_specs() if s.version == 1], ids=lambda spec: spec.topic)
def test_every_payload_parses_into_its_dto_and_back(spec):
    data = sample_data(spec.name)
    dto_class = dtos.DTO_BY_TOPIC[spec.topic]
    dto = dto_class.from_data(data)
    round_trip = dto.to_data()
    if spec.name == "bob.refund_requested":  # money comes back with 2 places, date-times in isoformat
        assert (round_trip["amount"], round_trip["delivery_amount"]) == ("2298.00", "300.00")
        assert round_trip["requested_at"] == "2026-03-02T10:00:00+03:00"
        round_trip.update(amount=data["amount"], delivery_amount=data["delivery_amount"])
    if spec.name == "payment.refund_processed":
        assert round_trip["processed_at"] == "2026-03-02T10:05:00+00:00"
        round_trip["processed_at"] = data["processed_at"]
    assert round_trip == data


def test_dto_fields_have_domain_types():
    dto = dtos.BobRefundRequestedV1.from_data(sample_data("bob.refund_requested"))
    assert dto.amount == Decimal("2298")
    assert isinstance(dto.refund_request_id, UUID)
    assert isinstance(dto.requested_at, datetime)
    assert dto.requested_at.tzinfo is not None
    assert dto.items[0].unit_price == Decimal("499.50")
    assert dto.customer.email == "ivan@example.com"


def test_money_with_more_than_two_places_is_refused_on_the_way_out():
    dto = dtos.BobRefundRequestedV1.from_data(sample_data("bob.refund_requested"))
    broken = dtos.BobRefundRequestedV1(**{**{f: getattr(dto, f) for f in dto.__slots__}, "amount": Decimal("1.005")})
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        broken.to_data()
