"""The one reader of query parameters: every kind of bad input, named at /query/<name>, all at once."""

from datetime import UTC, date, datetime

import pytest
from django.http import QueryDict

from events.contracts.errors import FieldError
from events.contracts.query import (
    QueryError,
    aware_datetime,
    boolean,
    choice,
    integer,
    iso_date,
    query_parse,
    text,
)

SPEC = {
    "limit": integer(1, 10, default=5),
    "kind": choice(["a", "b"]),
    "on": iso_date(required=True),
    "flag": boolean(default=False),
    "after": aware_datetime(),
    "name": text(),
}


def parse(query: str, **kwargs):
    return query_parse(QueryDict(query), SPEC, **kwargs)


def test_values_are_parsed_and_absent_or_empty_ones_take_their_default():
    assert parse("on=2026-03-01&kind=b&after=2026-03-01T10:00:00Z&name=x&flag=") == {
        "limit": 5,
        "kind": "b",
        "on": date(2026, 3, 1),
        "flag": False,
        "after": datetime(2026, 3, 1, 10, tzinfo=UTC),
        "name": "x",
    }


def test_every_problem_is_reported_at_once_without_the_value_sent():
    with pytest.raises(QueryError) as raised:
        parse("limit=11&limit=3&kind=c&after=2026-03-01T10:00:00&flag=maybe&extra=1&secret=hunter2")
    assert raised.value.errors == [
        FieldError("/query/extra", "is not a parameter of this endpoint (limit, kind, on, flag, after, name)"),
        FieldError("/query/secret", "is not a parameter of this endpoint (limit, kind, on, flag, after, name)"),
        FieldError("/query/limit", "is given more than once"),
        FieldError("/query/kind", "must be one of a, b"),
        FieldError("/query/on", "is required"),
        FieldError("/query/flag", "must be one of 1, 0, true, false"),
        FieldError("/query/after", "must be an RFC 3339 date-time with an offset"),
    ]
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("value", ["0", "11", "-1", "1.5", "ten", "1e1"])
def test_an_integer_out_of_range_or_not_whole_is_refused(value):
    with pytest.raises(QueryError, match="/query/limit: must be a whole number from 1 to 10"):
        parse(f"on=2026-03-01&limit={value}")


@pytest.mark.parametrize("value", ["2026-02-30", "1 March", "2026-3-1", "20260301"])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused(value):
    with pytest.raises(QueryError, match="/query/on: must be a date, YYYY-MM-DD"):
        parse(f"on={value}")


def test_parameters_that_something_else_reads_are_let_through():
    assert parse("on=2026-03-01&cursor=abc", others=["cursor"])["on"] == date(2026, 3, 1)
