"""Group status as Burrow builds it from partitions: worst partition, complete, maxlag, totallag."""

from __future__ import annotations

import pytest

from events.monitoring.lag import Commit, PartitionWindow, evaluate_group

NOW = 1_000_000
WINDOW = 4


def partition(
    name: str, number: int, status: str, *, current_lag: int | None = 5, commits: int = WINDOW
) -> PartitionWindow:
    """A window built to come out as ``status`` at NOW, each by one rule of the evaluator table:
    OK has a zero lag, WARN advances with growing lag, STALL never moves, REWIND goes back, and STOP
    advances but last committed long ago with no broker offset to hold it back."""
    offsets_and_lags = {
        "OK": [(10 * i, 0) for i in range(commits)],
        "WARN": [(10 * i, 5 + i) for i in range(commits)],
        "STALL": [(10, 5 + i) for i in range(commits)],
        "REWIND": [(100 - i, 5 + i) for i in range(commits)],
        "STOP": [(10 * i, 5 + i) for i in range(commits)],
    }[status]
    last_commit_at = NOW - 10_000_000 if status == "STOP" else NOW
    window = [
        Commit(offset=offset, timestamp_ms=last_commit_at - 1000 * (commits - 1 - i), lag=lag)
        for i, (offset, lag) in enumerate(offsets_and_lags)
    ]
    return PartitionWindow(topic=name, partition=number, commits=window, broker_offsets=[], current_lag=current_lag)


def group(*windows: PartitionWindow):
    return evaluate_group(cluster="c1", group="g1", windows=windows, window_size=WINDOW, now_ms=NOW)


def test_the_partition_builder_makes_the_status_it_names():
    statuses = [
        p.status
        for p in group(
            *(partition("t", i, s) for i, s in enumerate(["OK", "WARN", "STOP", "STALL", "REWIND"]))
        ).partitions
    ]
    assert statuses == ["OK", "WARN", "STOP", "STALL", "REWIND"]


@pytest.mark.parametrize(
    ("partition_statuses", "expected"),
    [
        (["OK", "OK"], "OK"),
        (["OK", "WARN"], "WARN"),
        (["WARN", "STOP"], "ERR"),
        (["OK", "STALL"], "ERR"),
        (["REWIND", "OK"], "ERR"),
        (["STOP", "STALL", "REWIND", "WARN"], "ERR"),
    ],
)
def test_the_group_is_its_worst_partition_with_stop_stall_and_rewind_as_err(partition_statuses, expected):
    result = group(*(partition("t", i, s) for i, s in enumerate(partition_statuses)))
    assert result.status == expected
    assert [p.status for p in result.partitions] == partition_statuses


def test_complete_is_the_share_of_partitions_with_a_full_window():
    result = group(partition("t", 0, "OK"), partition("t", 1, "OK", commits=2), partition("t", 2, "OK", commits=1))
    assert [p.complete for p in result.partitions] == [1.0, 0.5, 0.25]
    assert result.complete == pytest.approx(1 / 3)


def test_maxlag_is_the_partition_with_the_most_current_lag_and_totallag_the_sum():
    result = group(
        partition("a", 0, "OK", current_lag=3),
        partition("a", 1, "WARN", current_lag=11),
        partition("b", 0, "OK", current_lag=None),
        partition("b", 1, "OK", current_lag=11),
    )
    assert result.maxlag is result.partitions[1]
    assert (result.maxlag.topic, result.maxlag.partition, result.maxlag.current_lag) == ("a", 1, 11)
    assert result.totallag == 25  # the unknown lag adds nothing
    assert result.partition_count == 4


def test_partitions_come_in_topic_and_partition_order_with_their_first_and_last_commit():
    result = group(partition("b", 0, "OK"), partition("a", 1, "OK"), partition("a", 0, "OK"))
    assert [(p.topic, p.partition) for p in result.partitions] == [("a", 0), ("a", 1), ("b", 0)]
    first = result.partitions[0]
    assert (first.start["offset"], first.end["offset"]) == (0, 30)


def test_a_group_without_partitions_is_ok_incomplete_and_has_no_maxlag():
    result = group()
    assert (result.status, result.complete, result.maxlag, result.totallag, result.partition_count) == (
        "OK",
        0.0,
        None,
        0,
        0,
    )


def test_unknown_lags_everywhere_still_name_a_maxlag_partition():
    result = group(partition("t", 0, "OK", current_lag=None), partition("t", 1, "OK", current_lag=None))
    assert result.maxlag is result.partitions[0]
    assert result.totallag == 0
