"""A changelist paginator that never counts the whole result: COUNT(*) over a million rows is the slow part."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet


class NoCountPaginator(Paginator):
    """Counts only up to the first row after the page asked for.

    `count` is exact when the result ends before that row, and a lower bound otherwise; `exact`
    says which. The admin then offers the pages up to the next one, and the template says "more".
    """

    def __init__(self, object_list: QuerySet[Any], per_page: int, *, page_number: int, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.page_number = max(page_number, 1)

    @cached_property
    def count(self) -> int:
        limit = self.page_number * self.per_page + 1
        return len(self.object_list.values_list("pk", flat=True)[:limit])

    @property
    def exact(self) -> bool:
        return self.count <= self.page_number * self.per_page

    @property
    def shown_up_to(self) -> int:
        return min(self.count, self.page_number * self.per_page)
