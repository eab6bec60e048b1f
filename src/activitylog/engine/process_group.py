"""Stopping a command's whole process group: SIGTERM, a grace period, then SIGKILL.

A command runs as the leader of a session of its own, so its group id is its pid and every
descendant that did not start a session of its own is reached by one signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

_POLL_SECONDS = 0.05
_KILL_SECONDS = 5.0
_PROC = Path("/proc")


async def terminate_group(group_id: int, grace: float) -> None:
    """SIGTERM the group; SIGKILL whatever is left after ``grace`` seconds (or on cancellation).

    Returns once the group is gone, or once SIGKILL has had _KILL_SECONDS to take effect.
    """
    if not await _alive(group_id):
        return
    signal_group(group_id, signal.SIGTERM)
    try:
        await _wait_until_gone(group_id, grace)
    finally:
        # Also when cancelled while waiting: a second cancellation means "stop now". Harmless
        # when only zombies are left, and a no-op when nothing is.
        signal_group(group_id, signal.SIGKILL)
    await _wait_until_gone(group_id, _KILL_SECONDS)


async def _wait_until_gone(group_id: int, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while await _alive(group_id):  # noqa: ASYNC110 - no event tells when a group is gone
                await asyncio.sleep(_POLL_SECONDS)


async def _alive(group_id: int) -> bool:
    # Scanning /proc takes longer than the event loop should be held up.
    return await asyncio.to_thread(group_alive, group_id)


def signal_group(group_id: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group_id, signum)


def group_alive(group_id: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not _PROC.is_dir():
        return True
    # killpg also reaches zombies, which an init that does not reap keeps forever: look closer.
    return any(_running_in_group(entry, group_id) for entry in _PROC.iterdir())


def _running_in_group(entry: Path, group_id: int) -> bool:
    if not entry.name.isdigit():
        return False
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return False
    # Fields after the parenthesised command name: state, ppid, pgrp, ...
    fields = stat.rpartition(")")[2].split()
    return len(fields) > 2 and fields[2] == str(group_id) and fields[0] not in {"Z", "X"}
