"""The inbox's housekeeping: consumed events are kept as long as a redelivery is plausible, then deleted."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from events.messaging.models import InboxMessage

PRUNE_CHUNK_SIZE = 5000


def inbox_prune(*, received_before: datetime, chunk_size: int = PRUNE_CHUNK_SIZE) -> int:
    """Deletes inbox rows received before `received_before`, oldest first, a chunk per transaction.

    Rows are written in id order and, give or take the batches of concurrent consumers, in time
    order, so the walk follows the primary key: an index on received_at would cost every consumed
    event a write. It stops at the first chunk that holds a row to keep; a straggler keeps the rows
    after it for one more pass. Returns how many rows it deleted.
    """
    deleted = 0
    while True:
        with transaction.atomic():
            oldest = list(InboxMessage.objects.order_by("id").values_list("id", "received_at")[:chunk_size])
            expired = [row_id for row_id, received_at in oldest if received_at < received_before]
            if expired:
                deleted += InboxMessage.objects.filter(id__in=expired).delete()[0]
        if len(expired) < chunk_size:
            return deleted
