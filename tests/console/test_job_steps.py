"""The Job page's steps on a time axis: where each bar starts and how wide it is."""

from __future__ import annotations

from activitylog.console.job_steps import AXIS, MAX_STEPS, SHORTEST_BAR, job_steps
from activitylog.store.records import Message


def test_each_message_begins_a_step_that_lasts_until_the_next() -> None:
    messages = [Message(1_000, "Started"), Message(3_000, "Copying"), Message(9_000, "Done")]
    steps = job_steps(messages, start_ms=1_000, until_ms=11_000)
    assert steps.total == 3
    assert steps.span_ms == 10_000
    assert [(s.text, s.offset_ms, s.duration_ms) for s in steps.shown] == [
        ("Started", 0, 2_000),
        ("Copying", 2_000, 6_000),
        ("Done", 8_000, 2_000),
    ]
    assert [(s.x, s.width) for s in steps.shown] == [(0, 200), (200, 600), (800, 200)]


def test_a_step_too_short_to_see_keeps_a_sliver_inside_the_axis() -> None:
    messages = [Message(0, "a"), Message(0, "b"), Message(10_000, "c")]
    steps = job_steps(messages, start_ms=0, until_ms=10_000)
    assert [(s.x, s.width) for s in steps.shown] == [
        (0, SHORTEST_BAR),
        (0, AXIS),
        (AXIS - SHORTEST_BAR, SHORTEST_BAR),
    ]
    assert all(s.x + s.width <= AXIS for s in steps.shown)


def test_beyond_the_cap_the_longest_steps_are_kept_in_time_order() -> None:
    # Step i lasts i ms (the gaps between messages grow), so the longest are the last ones.
    dates, at = [], 0
    for i in range(MAX_STEPS + 40):
        dates.append(at)
        at += i + 1
    messages = [Message(date, f"step {i}") for i, date in enumerate(dates)]
    steps = job_steps(messages, start_ms=0, until_ms=at)
    assert steps.total == MAX_STEPS + 40
    assert [s.text for s in steps.shown] == [f"step {i}" for i in range(40, MAX_STEPS + 40)]


def test_no_messages_no_steps() -> None:
    steps = job_steps([], start_ms=5, until_ms=5)
    assert steps.shown == []
    assert steps.total == 0
    assert steps.span_ms == 1
