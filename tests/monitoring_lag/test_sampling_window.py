"""How one observation of a partition moves its window (the sampler's stand-in for Burrow's commit
stream): a commit is recorded when the offset moved or the group has members, never for an Empty
group standing still; every known high watermark is recorded."""

from __future__ import annotations

from events.monitoring.lag import Commit, PartitionWindow
from events.monitoring.services import window_after_observation


def observe(previous: PartitionWindow | None, offset: int, hwm: int | None, *, active: bool, at: int, size: int = 3):
    return window_after_observation(
        previous,
        topic="t",
        partition=0,
        committed_offset=offset,
        high_watermark=hwm,
        group_active=active,
        sampled_at_ms=at,
        window_size=size,
    )


def test_the_first_observation_is_a_commit_even_for_an_empty_group():
    window = observe(None, 10, 15, active=False, at=1000)
    assert window.commits == [Commit(offset=10, timestamp_ms=1000, lag=5)]
    assert (window.broker_offsets, window.current_lag) == ([15], 5)


def test_an_empty_group_standing_still_records_no_commit_but_the_lag_and_watermark_move_on():
    window = observe(observe(None, 10, 15, active=False, at=1000), 10, 19, active=False, at=2000)
    assert window.commits == [Commit(offset=10, timestamp_ms=1000, lag=5)]
    assert (window.broker_offsets, window.current_lag) == ([15, 19], 9)


def test_a_group_with_members_standing_still_records_the_same_offset_again():
    window = observe(observe(None, 10, 15, active=True, at=1000), 10, 19, active=True, at=2000)
    assert [(c["offset"], c["timestamp_ms"], c["lag"]) for c in window.commits] == [(10, 1000, 5), (10, 2000, 9)]


def test_a_moved_offset_is_a_commit_whoever_moved_it():
    window = observe(observe(None, 10, 15, active=False, at=1000), 4, 15, active=False, at=2000)
    assert [c["offset"] for c in window.commits] == [10, 4]


def test_an_offset_ahead_of_a_low_reading_watermark_has_zero_lag():
    assert observe(None, 20, 18, active=True, at=1000).commits[0]["lag"] == 0


def test_an_unknown_watermark_leaves_the_lag_unknown_and_the_broker_offsets_as_they_were():
    window = observe(observe(None, 10, 15, active=True, at=1000), 12, None, active=True, at=2000)
    assert window.commits[-1] == Commit(offset=12, timestamp_ms=2000, lag=None)
    assert (window.broker_offsets, window.current_lag) == ([15], None)


def test_the_window_keeps_only_the_newest_samples():
    window = None
    for i in range(5):
        window = observe(window, 10 * i, 10 * i + 1, active=True, at=1000 * i)
    assert [c["offset"] for c in window.commits] == [20, 30, 40]
    assert window.broker_offsets == [21, 31, 41]
