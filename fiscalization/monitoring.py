"""Correction receipts on the monitoring page: live ones, those past their SLA, those failed."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q
from django.urls import reverse

from events.monitoring.dashboard import Tile
from fiscalization.models import LIVE_STATUSES, CorrectionReceipt, ReceiptStatus


def correction_tiles(now: datetime) -> list[Tile]:
    counts = CorrectionReceipt.objects.aggregate(
        live=Count("id", filter=Q(status__in=LIVE_STATUSES)),
        late=Count("id", filter=Q(status__in=LIVE_STATUSES, deadline__lt=now)),
        failed=Count("id", filter=Q(status=ReceiptStatus.FAIL)),
    )
    changelist = reverse("admin:fiscalization_correctionreceipt_changelist")
    return [
        Tile(
            label="Correction receipts under way",
            value=str(counts["live"]),
            level="err" if counts["late"] else "ok",
            link=f"{changelist}?status__in={','.join(LIVE_STATUSES)}",
            note=f"{counts['late']} past their SLA" if counts["late"] else "all within their SLA",
        ),
        Tile(
            label="Correction receipts failed",
            value=str(counts["failed"]),
            level="warn" if counts["failed"] else "ok",
            link=f"{changelist}?status__exact={ReceiptStatus.FAIL}",
            note="support asks again or corrects at the provider",
        ),
    ]
