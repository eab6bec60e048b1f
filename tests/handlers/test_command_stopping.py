"""Stopping a command: timeouts, cancellation, and process trees that resist SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from activitylog import errors
from activitylog.engine.command_handler import command_handler
from activitylog.engine.handlers import Handler, JobContext
from activitylog.engine.worker import run_handler
from tests.handlers.conftest import ClaimJob, MakeCommand, WriteScript, read_pid, running

pytestmark = pytest.mark.anyio

# A parent and a child that both ignore SIGTERM and record their pids.
STUBBORN_TREE = """
trap '' TERM
sh -c 'trap "" TERM; echo $$ > child.pid; while :; do sleep 0.1; done' &
echo $$ > parent.pid
echo "started"
while :; do sleep 0.1; done
"""


async def run(handler: Handler, context: JobContext) -> None:
    await handler(context)


def has_content(path: Path) -> bool:
    return path.exists() and bool(path.read_text().strip())


async def wait_for_file(path: Path, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not has_content(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.02)


async def test_timeout_stops_the_command_and_says_so(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    script = write_script("slow.sh", "echo $$ > parent.pid\nexec sleep 60\n")
    context = await claim_job()
    handler = command_handler(make_command("/bin/sh", script))

    with pytest.raises(errors.OperationTimedOut, match=r"^timed out after 0\.5 s$"):
        await run_handler(handler, context, 0.5)

    assert not running(read_pid(tmp_path / "parent.pid"))


async def test_cancellation_stops_the_command_and_is_passed_on(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    script = write_script("slow.sh", "echo $$ > parent.pid\nexec sleep 60\n")
    context = await claim_job()
    task = asyncio.create_task(run(command_handler(make_command("/bin/sh", script)), context))
    await wait_for_file(tmp_path / "parent.pid")

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not running(read_pid(tmp_path / "parent.pid"))


async def test_a_tree_that_ignores_sigterm_is_killed_after_the_grace(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    script = write_script("stubborn.sh", STUBBORN_TREE)
    context = await claim_job()
    handler = command_handler(make_command("/bin/sh", script, kill_grace=0.5))
    task = asyncio.create_task(run(handler, context))
    await wait_for_file(tmp_path / "parent.pid")
    await wait_for_file(tmp_path / "child.pid")
    pids = [read_pid(tmp_path / "parent.pid"), read_pid(tmp_path / "child.pid")]
    assert all(running(pid) for pid in pids)

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - started >= 0.5  # SIGTERM was tried first, and ignored
    assert not any(running(pid) for pid in pids)


async def test_leftovers_of_a_finished_command_are_stopped(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    # The background child keeps stdout open: the command has exited, its output has not ended.
    script = write_script("leaves.sh", "sleep 60 &\necho $! > child.pid\necho done\n")
    context = await claim_job()

    started = time.monotonic()
    await command_handler(make_command("/bin/sh", script))(context)

    assert time.monotonic() - started < 10
    assert not running(read_pid(tmp_path / "child.pid"))


async def test_a_daemon_in_a_session_of_its_own_is_left_alone(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    # What a service's start script does: the server it starts outlives the job.
    script = write_script(
        "daemon.py",
        """
        import subprocess
        server = subprocess.Popen(["sleep", "60"], start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open("daemon.pid", "w").write(str(server.pid))
        """,
    )
    context = await claim_job()

    await command_handler(make_command(sys.executable, script))(context)

    pid = read_pid(tmp_path / "daemon.pid")
    try:
        assert running(pid)
    finally:
        os.kill(pid, signal.SIGKILL)
