"""Burrow's consumer lag evaluation rules, as a table.

Each case is written from Burrow's documented rules and their order, not from our code:
 1. no commits -> OK; 2. current lag 0 -> OK;
 3. STOP when the time since the last commit exceeds the span of the window, unless a broker offset
    in the window is at or below the last commit (the consumer had caught up);
 4. any zero lag in the window -> OK; 5. an offset going backwards -> REWIND;
 6. all offsets equal -> STALL; 7. lag never decreasing -> WARN; 8. otherwise OK.
Times are milliseconds; commits are (offset, timestamp_ms, lag). REWIND-before-STALL needs no case
of its own: offsets that are all equal never go back, so the order shows against WARN instead.
"""

from __future__ import annotations

import pytest

from events.monitoring.lag import Commit, evaluate_partition


def window(*commits: tuple[int, int, int | None]) -> list[Commit]:
    return [Commit(offset=offset, timestamp_ms=timestamp_ms, lag=lag) for offset, timestamp_ms, lag in commits]


# Offsets advance, lag grows: a slow consumer (WARN) when nothing else applies.
ADVANCING_LAG_GROWING = window((100, 0, 5), (110, 10_000, 6), (120, 20_000, 8))
# Committed at 0 s, 10 s, 20 s: a span of 20 s, so silence after 40 s is longer than the window.
SPAN_20S_LAST_AT_20S = 20_000

CASES = [
    # --- rule 1: no commits ------------------------------------------------------------------
    pytest.param([], [], 42, 1_000_000, "OK", id="1-no-commits-is-ok-whatever-the-lag"),
    pytest.param([], [], None, 0, "OK", id="1-no-commits-with-unknown-lag-is-ok"),
    # --- rule 2: current lag zero wins over everything after it ---------------------------------
    pytest.param(ADVANCING_LAG_GROWING, [], 0, 10_000_000, "OK", id="2-current-lag-zero-beats-stop"),
    pytest.param(
        window((200, 0, 5), (150, 10_000, 5), (160, 20_000, 4)), [300], 0, 20_000, "OK", id="2-zero-beats-rewind"
    ),
    pytest.param(window((50, 0, 5), (50, 10_000, 6)), [], 0, 10_000, "OK", id="2-current-lag-zero-beats-stall"),
    # --- rule 3: STOP --------------------------------------------------------------------------
    pytest.param(ADVANCING_LAG_GROWING, [125, 130], 9, 40_001, "STOP", id="3-silence-longer-than-span-is-stop"),
    pytest.param(ADVANCING_LAG_GROWING, [125, 130], 9, 40_000, "WARN", id="3-silence-equal-to-span-is-not-stop-yet"),
    pytest.param(window((7, 5_000, 3)), [10], 3, 5_001, "STOP", id="3-single-commit-stops-as-soon-as-time-passes"),
    pytest.param(window((7, 5_000, 3)), [10], 3, 5_000, "STALL", id="3-single-commit-seen-now-is-a-stall"),
    pytest.param(ADVANCING_LAG_GROWING, [], 9, 10_000_000, "STOP", id="3-no-broker-offsets-cannot-hold-stop-back"),
    pytest.param(
        ADVANCING_LAG_GROWING,
        [121, 125, 130],
        9,
        10_000_000,
        "STOP",
        id="3-broker-offset-one-past-commit-is-not-caught-up",
    ),
    pytest.param(
        ADVANCING_LAG_GROWING,
        [120, 125, 130],
        9,
        10_000_000,
        "WARN",
        id="3-broker-offset-equal-to-commit-holds-stop-back",
    ),
    pytest.param(
        ADVANCING_LAG_GROWING,
        [90, 125, 130],
        9,
        10_000_000,
        "WARN",
        id="3-any-broker-offset-below-commit-holds-stop-back",
    ),
    pytest.param(
        window((100, 0, 0), (110, 10_000, 3), (120, 20_000, 4)),
        [125, 130],
        10,
        40_001,
        "STOP",
        id="3-stop-is-checked-before-the-zero-lag-rule",
    ),
    pytest.param(
        window((100, 0, 0), (110, 10_000, 3), (120, 20_000, 4)),
        [120, 130],
        10,
        40_001,
        "OK",
        id="3-held-back-stop-falls-through-to-zero-lag-ok",
    ),
    pytest.param(
        window((200, 0, 5), (150, 10_000, 9), (160, 20_000, 9)),
        [170],
        10,
        40_001,
        "STOP",
        id="3-stop-beats-rewind",
    ),
    pytest.param(
        window((50, 0, 5), (50, 10_000, 6), (50, 20_000, 7)), [60], 10, 40_001, "STOP", id="3-stop-beats-stall"
    ),
    pytest.param(ADVANCING_LAG_GROWING, [125], None, 40_001, "STOP", id="3-unknown-current-lag-can-still-stop"),
    # --- rule 4: a zero lag anywhere in the window -----------------------------------------------
    pytest.param(
        window((100, 0, 4), (110, 10_000, 0), (120, 20_000, 2)),
        [125],
        5,
        20_000,
        "OK",
        id="4-zero-lag-mid-window-is-ok",
    ),
    pytest.param(
        window((200, 0, 0), (150, 10_000, 9), (160, 20_000, 9)), [170], 10, 20_000, "OK", id="4-zero-lag-beats-rewind"
    ),
    pytest.param(
        window((50, 0, 0), (50, 10_000, 6), (50, 20_000, 7)), [57], 7, 20_000, "OK", id="4-zero-lag-beats-stall"
    ),
    pytest.param(
        window((100, 0, 0), (110, 10_000, 3), (120, 20_000, 9)), [129], 9, 20_000, "OK", id="4-zero-lag-beats-warn"
    ),
    pytest.param(
        window((50, 0, None), (50, 10_000, None), (50, 20_000, None)),
        [],
        None,
        20_000,
        "STALL",
        id="4-unknown-lag-is-not-zero-lag",
    ),
    # --- rule 5: REWIND -------------------------------------------------------------------------
    pytest.param(
        window((200, 0, 5), (150, 10_000, 9), (160, 20_000, 8)), [170], 10, 20_000, "REWIND", id="5-offset-went-back"
    ),
    pytest.param(
        window((100, 0, 5), (110, 10_000, 6), (105, 20_000, 12)),
        [117],
        12,
        20_000,
        "REWIND",
        id="5-rewind-beats-warn",
    ),
    pytest.param(
        window((100, 0, 5), (90, 10_000, 15), (95, 20_000, 10), (96, 30_000, 9)),
        [105],
        9,
        30_000,
        "REWIND",
        id="5-rewind-anywhere-in-window-beats-decreasing-lag-ok",
    ),
    # --- rule 6: STALL --------------------------------------------------------------------------
    pytest.param(
        window((50, 0, 5), (50, 10_000, 6), (50, 20_000, 7)), [57], 7, 20_000, "STALL", id="6-same-offset-with-lag"
    ),
    pytest.param(
        window((50, 0, 9), (50, 10_000, 8), (50, 20_000, 7)),
        [57],
        7,
        20_000,
        "STALL",
        id="6-stall-even-while-lag-falls",
    ),
    # --- rule 7: WARN ---------------------------------------------------------------------------
    pytest.param(ADVANCING_LAG_GROWING, [128], 8, 20_000, "WARN", id="7-lag-grows-while-offsets-advance"),
    pytest.param(
        window((100, 0, 5), (110, 10_000, 5), (120, 20_000, 5)), [125], 5, 20_000, "WARN", id="7-flat-lag-is-warn"
    ),
    pytest.param(
        window((100, 0, 5), (110, 10_000, None), (120, 20_000, 7)),
        [127],
        7,
        20_000,
        "WARN",
        id="7-unknown-lags-are-skipped",
    ),
    pytest.param(
        window((100, 0, None), (110, 10_000, None), (120, 20_000, None)),
        [],
        None,
        20_000,
        "WARN",
        id="7-no-known-lag-never-decreases",
    ),
    # --- rule 8: otherwise OK -------------------------------------------------------------------
    pytest.param(
        window((100, 0, 5), (110, 10_000, 8), (120, 20_000, 6)), [126], 6, 20_000, "OK", id="8-lag-fell-somewhere"
    ),
    pytest.param(
        window((100, 0, 7), (110, 10_000, None), (120, 20_000, 5)),
        [125],
        5,
        20_000,
        "OK",
        id="8-drop-across-an-unknown-lag-counts",
    ),
]


@pytest.mark.parametrize(("commits", "broker_offsets", "current_lag", "now_ms", "expected"), CASES)
def test_burrow_rule(commits, broker_offsets, current_lag, now_ms, expected):
    assert evaluate_partition(commits, broker_offsets, current_lag, now_ms) == expected
