"""A job's steps on a time axis, for the Job page's picture of where the time went.

Each message begins a step that lasts until the next message, or the job's end (or now, while
it runs). The picture is drawn with SVG rectangles whose x and width are attributes in a
0..1000 view box: the page's Content-Security-Policy allows no style attributes, and SVG
geometry is not style.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from activitylog.store.records import Message

AXIS = 1000
"""The view box's width: a step's x and width are in thousandths of the job's duration."""
MAX_STEPS = 60
"""Beyond this many steps the picture keeps the longest ones (in time order), so that a job
that wrote thousands of messages still has a page of a few kilobytes."""
SHORTEST_BAR = 2
"""A step too short to see still gets a sliver, so that every listed step has a mark."""


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    text: str
    offset_ms: int
    """From the job's start to the step's start."""
    duration_ms: int
    x: int
    width: int


@dataclasses.dataclass(frozen=True, slots=True)
class Steps:
    shown: list[Step]
    total: int
    """How many steps the job has; more than ``len(shown)`` when only the longest are shown."""
    span_ms: int
    """The time axis: from the job's start to its end, or to now while it runs."""


def job_steps(messages: Sequence[Message], start_ms: int, until_ms: int) -> Steps:
    span = max(until_ms - start_ms, 1)
    steps = []
    for index, message in enumerate(messages):
        begins = max(message.activity_date, start_ms)
        ends = messages[index + 1].activity_date if index + 1 < len(messages) else until_ms
        duration = max(ends - begins, 0)
        x = min(round((begins - start_ms) * AXIS / span), AXIS - SHORTEST_BAR)
        width = max(round(duration * AXIS / span), SHORTEST_BAR)
        steps.append(Step(message.text, begins - start_ms, duration, x, min(width, AXIS - x)))
    shown = steps
    if len(steps) > MAX_STEPS:
        by_length = sorted(range(len(steps)), key=lambda i: steps[i].duration_ms, reverse=True)
        shown = [steps[i] for i in sorted(by_length[:MAX_STEPS])]
    return Steps(shown, len(steps), span)
