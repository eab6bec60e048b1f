"""The command handler against real scripts: outcomes, the stdout protocol, limits, secrets."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from activitylog.domain.jobs import JobStatus
from activitylog.engine.command_handler import CommandFailed, _feed_stdin, command_handler
from activitylog.engine.command_output import TRUNCATED
from activitylog.store.base import Store
from tests.conftest import DOMAIN
from tests.handlers.conftest import ClaimJob, MakeCommand, WriteScript, messages_of

pytestmark = pytest.mark.anyio
PYTHON = sys.executable


async def test_success_relays_stdout_lines_as_messages(
    store: Store, claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand
) -> None:
    script = write_script(
        "create.py",
        """
        import json, os, sys
        job = json.load(sys.stdin)
        print(f"Started operation to create service [{job['serviceName']}] "
              f"in identity domain [{os.environ['ACTIVITYLOG_IDENTITY_DOMAIN']}].")
        print()  # blank lines are not messages
        print(f"Acquired resources for instance({job['parameters']['size']}G)...", flush=True)
        print("no newline at the end", end="")
        """,
    )
    context = await claim_job("MyCache", {"size": "2"})

    await command_handler(make_command(PYTHON, script))(context)

    assert await messages_of(store, context) == [
        f"Started operation to create service [MyCache] in identity domain [{DOMAIN}].",
        "Acquired resources for instance(2G)...",
        "no newline at the end",
    ]
    assert context.final_status is JobStatus.SUCCEED


async def test_stdin_and_environment_describe_the_job(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    script = write_script(
        "dump.py",
        """
        import json, os, sys
        seen = {"stdin": json.load(sys.stdin), "argv": sys.argv[1:],
                "env": {k: v for k, v in os.environ.items() if k.startswith("ACTIVITYLOG_")},
                "other": sorted(os.environ)}
        open("seen.json", "w").write(json.dumps(seen))
        """,
    )
    context = await claim_job("MyCache", {"size": "3", "note": "x"})
    config = make_command(PYTHON, script, "--flag", env={"REGION": "eu"})

    await command_handler(config)(context)

    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["stdin"] == {
        "jobId": context.job_id,
        "attempt": 1,
        "serviceName": "MyCache",
        "serviceType": "caching",
        "identityDomain": DOMAIN,
        "operationType": "CREATE_SERVICE",
        "parameters": {"size": "3", "note": "x"},
    }
    assert seen["argv"] == ["--flag"]
    assert seen["env"] == {
        "ACTIVITYLOG_JOB_ID": str(context.job_id),
        "ACTIVITYLOG_ATTEMPT": "1",
        "ACTIVITYLOG_SERVICE_NAME": "MyCache",
        "ACTIVITYLOG_SERVICE_TYPE": "caching",
        "ACTIVITYLOG_OPERATION": "CREATE_SERVICE",
        "ACTIVITYLOG_IDENTITY_DOMAIN": DOMAIN,
    }
    # Only an allow-list of the server's environment, plus what the configuration adds.
    assert "REGION" in seen["other"]
    assert set(seen["other"]) <= {*seen["env"], "REGION", "PATH", "HOME", "LANG", "LC_ALL",
                                  "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME"}  # fmt: skip


async def test_failure_carries_the_last_stderr_lines(
    store: Store, claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand
) -> None:
    script = write_script(
        "fail.py",
        """
        import sys
        print("Started operation...")
        for n in range(1, 31):
            print(f"problem {n}", file=sys.stderr)
        sys.exit(3)
        """,
    )
    context = await claim_job()

    with pytest.raises(CommandFailed) as failed:
        await command_handler(make_command(PYTHON, script))(context)

    tail = " | ".join(f"problem {n}" for n in range(21, 31))
    assert str(failed.value) == f"command exited with status 3: {tail}"
    assert await messages_of(store, context) == ["Started operation..."]


async def test_a_missing_program_fails_cleanly(
    claim_job: ClaimJob, make_command: MakeCommand, tmp_path: Path
) -> None:
    context = await claim_job()
    missing = tmp_path / "no-such-program"

    with pytest.raises(CommandFailed, match=f"^cannot run {missing}: No such file or directory$"):
        await command_handler(make_command(missing))(context)


async def test_a_signal_is_named(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand
) -> None:
    script = write_script("kill.sh", "kill -KILL $$\n")
    context = await claim_job()

    with pytest.raises(CommandFailed, match=r"^command was killed by SIGKILL$"):
        await command_handler(make_command("/bin/sh", script))(context)


async def test_progress_and_warn_directives(
    store: Store, claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand
) -> None:
    script = write_script(
        "directives.sh",
        """
        echo "::progress 40"
        echo "Resizing..."
        echo "::progress 250"
        echo "::progress 100"
        echo "::warn Cache resized, but the old node is still draining."
        echo "::unknown is an ordinary line"
        """,
    )
    context = await claim_job()

    await command_handler(make_command("/bin/sh", script))(context)

    assert await messages_of(store, context) == [
        "Resizing...",
        "::progress 250",
        "::unknown is an ordinary line",
    ]
    assert context.percent_complete == 100
    assert context.final_status is JobStatus.WARN
    assert context.closing_messages == ["Cache resized, but the old node is still draining."]


async def test_huge_output_is_bounded(
    store: Store, claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand
) -> None:
    # Megabytes on both pipes at once: reading one while the other fills would deadlock.
    script = write_script(
        "chatty.py",
        """
        import sys
        sys.stdout.write("x" * 1_000_000 + "\\n")
        for n in range(20_000):
            sys.stderr.write(f"noise {n} " + "e" * 200 + "\\n")
            sys.stdout.write(f"line {n}\\n")
        sys.stdout.write("::progress 100\\n")
        """,
    )
    context = await claim_job()
    config = make_command(PYTHON, script, max_line_length=100, max_output_lines=20)

    await command_handler(config)(context)

    messages = await messages_of(store, context)
    assert messages[0] == "x" * 100 + TRUNCATED
    assert messages[1:20] == [f"line {n}" for n in range(19)]
    assert messages[20:] == ["Output limit reached: only the first 20 lines are recorded."]
    assert context.percent_complete == 100  # directives still count past the limit


async def test_secrets_are_redacted_everywhere(
    store: Store, claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand
) -> None:
    script = write_script(
        "leaky.py",
        """
        import os, sys
        token = os.environ["API_TOKEN"]
        print(f"connecting with {token} and hunter2")
        print("y" * 95 + token)  # the secret straddles the line-length cut
        print(f"::warn token {token} rotated")
        print(f"auth failed for {token}", file=sys.stderr)
        sys.exit(1)
        """,
    )
    context = await claim_job()
    config = make_command(
        PYTHON,
        script,
        secret_env={"API_TOKEN": "s3cr3t-t0ken"},
        redact=["hunter2"],
        max_line_length=100,
    )

    with pytest.raises(CommandFailed) as failed:
        await command_handler(config)(context)

    messages = await messages_of(store, context)
    # Redacted first, then cut: no part of the secret survives the cut.
    assert messages == [
        "connecting with [REDACTED] and [REDACTED]",
        "y" * 95 + "[REDA" + TRUNCATED,
    ]
    assert context.closing_messages == ["token [REDACTED] rotated"]
    assert str(failed.value) == "command exited with status 1: auth failed for [REDACTED]"


def test_a_command_that_never_reads_its_stdin_is_no_failure_on_uvloop() -> None:
    """The server runs on uvloop, which reports a write to a closed pipe as a RuntimeError."""
    uvloop = pytest.importorskip("uvloop")

    async def feed_a_process_that_has_exited() -> None:
        process = await asyncio.create_subprocess_exec("/bin/true", stdin=asyncio.subprocess.PIPE)
        await process.wait()
        await _feed_stdin(process, b"{}" * 1000)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(feed_a_process_that_has_exited())
