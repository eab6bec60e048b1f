"""The ``command`` handler: runs the argv the configuration gives for an operation.

Nothing from a request ever reaches the command line, and no shell is involved: the job's
parameters arrive as JSON on stdin, its identity in ACTIVITYLOG_* environment variables. stdout
lines become activity messages (command_output); exit 0 is success. docs/handlers.md is the guide.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
from collections.abc import AsyncIterator

from activitylog import errors
from activitylog.engine.command_output import CommandOutput, Redactor
from activitylog.engine.handlers import Handler, JobContext
from activitylog.engine.process_group import terminate_group
from activitylog.engine.service_types_config import CommandConfig

# The only variables of the server's own environment a command gets unless configured
# (`pass_env`): enough to find programs and speak the locale. The rest, database URL
# included, stays out of handler processes.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")
# After the command exits, how long its pipes may stay open before whatever still holds them
# is treated as a leftover.
_DRAIN_SECONDS = 1.0


class CommandFailed(errors.OperationFailed):
    """The command could not be started, or exited unsuccessfully."""


def command_handler(config: CommandConfig) -> Handler:
    """A handler that runs ``config.argv`` once per job."""

    async def run_command(context: JobContext) -> None:
        redactor = Redactor([*config.secret_env.values(), *config.redact])
        output = CommandOutput(context, redactor, config.max_line_length, config.max_output_lines)
        async with _started(config, context) as (process, stdout, stderr):
            await _supervise(process, stdin_payload(context), output, stdout, stderr, config)
        if process.returncode != 0:
            tail = output.stderr_tail()
            raise CommandFailed(
                _failure(process.returncode, tail),
                exit_status=process.returncode,
                last_output=output.last_line(),
            )

    return run_command


def stdin_payload(context: JobContext) -> bytes:
    """The job as the command reads it on stdin: one JSON object and a newline."""
    job = {
        "jobId": context.job_id,
        "attempt": context.attempt,
        "serviceName": context.service_name,
        "serviceType": context.service_type,
        "identityDomain": context.identity_domain,
        "operationType": context.operation_type,
        "parameters": dict(context.parameters),
    }
    # ASCII with \u escapes: a lone surrogate from a request's JSON cannot break the encoding.
    return json.dumps(job).encode() + b"\n"


def command_environment(config: CommandConfig, context: JobContext) -> dict[str, str]:
    names = (*INHERITED_ENV, *config.pass_env)
    env = {name: os.environ[name] for name in names if name in os.environ}
    env.update(config.env)
    env.update(config.secret_env)
    env.update(
        ACTIVITYLOG_JOB_ID=str(context.job_id),
        ACTIVITYLOG_ATTEMPT=str(context.attempt),
        ACTIVITYLOG_SERVICE_NAME=context.service_name,
        ACTIVITYLOG_SERVICE_TYPE=context.service_type,
        ACTIVITYLOG_OPERATION=context.operation_type,
        ACTIVITYLOG_IDENTITY_DOMAIN=context.identity_domain,
    )
    return env


Started = tuple[asyncio.subprocess.Process, asyncio.StreamReader, asyncio.StreamReader]


@contextlib.asynccontextmanager
async def _started(config: CommandConfig, context: JobContext) -> AsyncIterator[Started]:
    """The running command, its whole process group stopped on any way out but a clean exit.

    stdout and stderr are pipes of our own rather than asyncio's, so that a descendant holding
    them open cannot delay noticing that the command itself exited.
    """
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    pipes = [os.fdopen(stdout_read, "rb", buffering=0), os.fdopen(stderr_read, "rb", buffering=0)]
    transports: list[asyncio.BaseTransport] = []
    try:
        try:
            process = await _spawn(config, context, stdout_write, stderr_write)
        finally:
            os.close(stdout_write)  # the command holds its own copies now
            os.close(stderr_write)
        try:
            stdout, stderr = [await _reader(pipe, transports) for pipe in pipes]
            yield process, stdout, stderr
        except BaseException:
            # A timeout or a cancellation (or a failing store): nothing of the command may
            # outlive its job. Whatever interrupted the handler goes on up.
            await terminate_group(process.pid, config.kill_grace)
            await process.wait()
            raise
    finally:
        for transport in transports:
            transport.close()
        for pipe in pipes:
            pipe.close()


async def _spawn(
    config: CommandConfig, context: JobContext, stdout: int, stderr: int
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *config.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            cwd=config.cwd,
            env=command_environment(config, context),
            start_new_session=True,  # its own process group, stopped as one
        )
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CommandFailed(f"cannot run {config.argv[0]}: {reason}") from exc


async def _reader(pipe: io.FileIO, transports: list[asyncio.BaseTransport]) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    transports.append(transport)
    return reader


async def _supervise(
    process: asyncio.subprocess.Process,
    payload: bytes,
    output: CommandOutput,
    stdout: asyncio.StreamReader,
    stderr: asyncio.StreamReader,
    config: CommandConfig,
) -> None:
    """Feed stdin and read both pipes at once (so a chatty stderr cannot block the command)."""
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(_feed_stdin(process, payload))
            readers = {
                tasks.create_task(output.relay_stdout(stdout)),
                tasks.create_task(output.collect_stderr(stderr)),
            }
            await process.wait()
            _, holding = await asyncio.wait(readers, timeout=_DRAIN_SECONDS)
            # Descendants left in the group are leftovers of this job: stop them too.
            await terminate_group(process.pid, config.kill_grace)
            if holding:
                _, holding = await asyncio.wait(holding, timeout=_DRAIN_SECONDS)
            for task in holding:  # held open by a process that left the group: stop listening
                task.cancel()
    except BaseExceptionGroup as group:
        # The first failure (the store refusing a message, say) is the reason; the worker
        # handles it as it would from any handler.
        raise group.exceptions[0] from group


async def _feed_stdin(process: asyncio.subprocess.Process, payload: bytes) -> None:
    stdin = process.stdin
    if stdin is None:  # pragma: no cover - always a pipe here
        return
    # A command that exits without reading its stdin is no failure of ours. asyncio says so with
    # BrokenPipeError; uvloop (the server's loop) with a RuntimeError, once the pipe's handle is
    # closed: "unable to perform operation on <WriteUnixTransport closed=True>".
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, RuntimeError):
        stdin.write(payload)
        await stdin.drain()
        stdin.close()
        await stdin.wait_closed()


def _failure(returncode: int | None, stderr_tail: str) -> str:
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            reason = f"command was killed by {signal.Signals(-returncode).name}"
            return f"{reason}: {stderr_tail}" if stderr_tail else reason
    reason = f"command exited with status {returncode}"
    return f"{reason}: {stderr_tail}" if stderr_tail else reason
