"""Flags: raised on subjects that need a look, cleared when the condition is gone (see models.Flag).

The app that owns a subject decides what to flag and when a flag no longer holds; this module only
keeps them, one open flag per subject and kind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from django.db.models import F, QuerySet
from django.utils import timezone

from events.monitoring.models import Flag


def flags_raise(*, subject_type: str, kind: str, details: Mapping[str, str], now: datetime | None = None) -> int:
    """Raises a flag of `kind` on each subject id of `details` (id -> detail) that has no open one;
    returns how many were raised. Safe against a concurrent raise: the unique constraint keeps one."""
    if not details:
        return 0
    already = set(
        flags_open(subject_type=subject_type, kind=kind)
        .filter(subject_id__in=list(details))
        .values_list("subject_id", flat=True)
    )
    raised_at = now or timezone.now()
    rows = [
        Flag(subject_type=subject_type, subject_id=subject_id, kind=kind, detail=detail, raised_at=raised_at)
        for subject_id, detail in details.items()
        if subject_id not in already
    ]
    Flag.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def flags_clear(
    *,
    subject_type: str,
    kind: str,
    still_holding: Collection[str] | QuerySet,
    reason: str,
    now: datetime | None = None,
) -> int:
    """Clears the open flags of `kind` whose subject is not in `still_holding` (ids, or a queryset of
    one text column, which stays a subquery); returns how many."""
    holding = still_holding if isinstance(still_holding, QuerySet) else list(still_holding)
    return (
        flags_open(subject_type=subject_type, kind=kind)
        .exclude(subject_id__in=holding)
        .update(cleared_at=now or timezone.now(), clear_reason=reason)
    )


def flags_open(*, subject_type: str, kind: str | None = None) -> QuerySet[Flag]:
    flags = Flag.objects.filter(subject_type=subject_type, cleared_at__isnull=True)
    return flags if kind is None else flags.filter(kind=kind)


def flags_of(*, subject_type: str, subject_id: str) -> QuerySet[Flag]:
    """Every flag of one subject, open first, newest first."""
    return Flag.objects.filter(subject_type=subject_type, subject_id=subject_id).order_by(
        F("cleared_at").desc(nulls_first=True), "-raised_at"
    )
