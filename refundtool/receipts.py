"""A refund's fiscal receipts as the refund page, the API and reports show them.

refundtool cannot import fiscalization (dependencies point the other way), so fiscalization
registers a source in its ``AppConfig.ready``::

    register_receipt_source(lambda refund: [ReceiptView(...) for receipt in ...])

The source returns one ``ReceiptView`` per provider document, oldest first: every attempt of every
part, with its status, the provider requests made for it, the last error and the fiscal attributes.
(The refund's own fiscal fields, denormalised from the receipts, are shown beside them.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from refundtool.models import Refund


@dataclass(frozen=True, slots=True)
class ReceiptView:
    label: str  # which document: "part 1, attempt 2 (external id …)"
    status: str
    attempts: int | None = None  # requests sent to the provider for it; None when unknown
    last_error: str = ""
    fn_number: str = ""
    fiscal_document_number: str = ""
    fiscal_document_attribute: str = ""
    receipt_datetime: datetime | None = None
    ofd_receipt_url: str = ""
    created_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ofd_link(self) -> str:
        """The OFD's link when it is https; anything else (a javascript: URL) is shown as text, never linked."""
        return self.ofd_receipt_url if self.ofd_receipt_url.startswith("https://") else ""


ReceiptSource = Callable[[Refund], list[ReceiptView]]
_sources: list[ReceiptSource] = []


def register_receipt_source(source: ReceiptSource) -> None:
    """Called once by the app that owns receipts; a second registration of the same source is ignored."""
    if source not in _sources:
        _sources.append(source)


def registered_receipt_sources() -> list[ReceiptSource]:
    return list(_sources)


def refund_receipts(refund: Refund) -> list[ReceiptView]:
    return [view for source in _sources for view in source(refund)]


# The refunds among those given that have correction receipts, each with its latest one as the
# reconciliation shows it ("done <external id>"); fiscalization registers it.
CorrectionsSource = Callable[[QuerySet[Refund]], Mapping[UUID, str]]
_corrections_sources: list[CorrectionsSource] = []


def register_corrections_source(source: CorrectionsSource) -> None:
    if source not in _corrections_sources:
        _corrections_sources.append(source)


def refund_corrections(refunds: QuerySet[Refund]) -> dict[UUID, str]:
    return {refund_id: text for source in _corrections_sources for refund_id, text in source(refunds).items()}
