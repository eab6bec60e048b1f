"""activitylog.toml: what a valid file gives, and the exact error for each kind of mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from activitylog import errors
from activitylog.engine.service_types_config import (
    CommandConfig,
    Config,
    OperationConfig,
    OperationPolicy,
    ServiceTypeConfig,
    load_config,
)

VALID = """
[service_types.caching]
description = "Redis caches"
validate_parameters = "python:activitylog.engine.demo_caching:validate_caching_parameters"
handler = "command"
command = ["python3", "redis_caching.py"]
env = { STATE_DIR = "state" }
timeout = 60

[service_types.caching.operations.CREATE_SERVICE]
timeout = 120.5
attempts = 3
backoff = 10
secret_env = { TOKEN = "t0ken" }
redact = ["hunter2"]
pass_env = ["HTTPS_PROXY"]
kill_grace = 2
max_line_length = 200
max_output_lines = 50

[service_types.caching.operations.DELETE_SERVICE]

[service_types.caching.operations.BACKUP]
handler = "python:tests.handlers.sample_handlers:greet"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "activitylog.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    common: dict[str, Any] = {
        "argv": ("python3", "redis_caching.py"),
        "cwd": tmp_path,
        "env": {"STATE_DIR": "state"},
    }

    config = load_config(path)

    operations = "service_types.caching.operations"
    assert config == Config(
        path=path,
        service_types=(
            ServiceTypeConfig(
                name="caching",
                description="Redis caches",
                validate_parameters=(
                    "python:activitylog.engine.demo_caching:validate_caching_parameters"
                ),
                operations=(
                    OperationConfig(
                        name="CREATE_SERVICE",
                        handler="command",
                        handler_key="service_types.caching.handler",
                        policy=OperationPolicy(timeout=120.5, attempts=3, backoff=10.0),
                        command=CommandConfig(
                            **common,
                            secret_env={"TOKEN": "t0ken"},
                            pass_env=("HTTPS_PROXY",),
                            redact=("hunter2",),
                            kill_grace=2.0,
                            max_line_length=200,
                            max_output_lines=50,
                        ),
                    ),
                    OperationConfig(
                        name="DELETE_SERVICE",
                        handler="command",
                        handler_key="service_types.caching.handler",
                        policy=OperationPolicy(timeout=60.0),
                        command=CommandConfig(**common),
                    ),
                    OperationConfig(
                        name="BACKUP",
                        handler="python:tests.handlers.sample_handlers:greet",
                        handler_key=f"{operations}.BACKUP.handler",
                        policy=OperationPolicy(timeout=60.0),
                    ),
                ),
            ),
        ),
    )


def test_the_example_configuration_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "redis-caching" / "activitylog.toml"

    config = load_config(example)

    (caching,) = config.service_types
    assert caching.name == "caching"
    assert {op.name for op in caching.operations} == {
        "CREATE_SERVICE", "DELETE_SERVICE", "START_SERVICE", "STOP_SERVICE",
        "RESTART_SERVICE", "SCALE_SERVICE",
    }  # fmt: skip


OP = "service_types.caching.operations.CREATE_SERVICE"
MINIMAL_OP = '[service_types.caching.operations.CREATE_SERVICE]\nhandler = "command"\n'
COMMAND = 'command = ["true"]\n'
EXPECTED_ARGV = 'a non-empty list of strings, e.g. ["python3", "operation.py"]'

INVALID = {
    "not toml": (
        "[service_types\n",
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 15)",
    ),
    "unknown top-level key": (
        "colour = 1\n",
        "colour: unknown key; expected one of: retention, service_types, settings",
    ),
    "no service types": ("", "service_types: missing; expected a table"),
    "empty service types": (
        "[service_types]\n",
        "service_types: expected at least one service type table",
    ),
    "service types not a table": (
        'service_types = "caching"\n',
        'service_types: expected a table, got "caching"',
    ),
    "bad service type name": (
        '[service_types."ca ching".operations.X]\n',
        "service_types.ca ching: expected a letter, then up to 49 letters, digits, - or _",
    ),
    "no operations": (
        "[service_types.caching]\n",
        "service_types.caching.operations: missing; expected a table",
    ),
    "bad operation name": (
        '[service_types.caching.operations.create]\nhandler = "command"\n',
        "service_types.caching.operations.create: "
        "expected an operation name in capitals, e.g. CREATE_SERVICE",
    ),
    "unknown operation key": (
        MINIMAL_OP + COMMAND + "timout = 5\n",
        f"{OP}.timout: unknown key; expected one of: attempts, backoff, command, cwd, env, "
        "handler, kill_grace, max_line_length, max_output_lines, pass_env, redact, "
        "secret_env, timeout",
    ),
    "no handler": (
        f"[{OP}]\n" + COMMAND,
        f'{OP}.handler: missing; expected "command" or "python:package.module:callable"',
    ),
    "unknown handler": (
        f'[{OP}]\nhandler = "shell"\n',
        f'{OP}.handler: expected "command" or "python:package.module:callable", got "shell"',
    ),
    "bad python reference": (
        f'[{OP}]\nhandler = "python:no colon here"\n',
        f'{OP}.handler: expected "python:package.module:callable", got "python:no colon here"',
    ),
    "command with a python handler": (
        f'[{OP}]\nhandler = "python:pkg.mod:fn"\n' + COMMAND,
        f'{OP}.command: only used with handler = "command"',
    ),
    "no command": (
        MINIMAL_OP,
        f"{OP}.command: missing; expected {EXPECTED_ARGV}",
    ),
    "command as a shell string": (
        MINIMAL_OP + 'command = "redis.sh $NAME"\n',
        f'{OP}.command: expected {EXPECTED_ARGV}, got "redis.sh $NAME"',
    ),
    "empty command": (
        MINIMAL_OP + "command = []\n",
        f"{OP}.command: expected {EXPECTED_ARGV}, got an array",
    ),
    "timeout as text": (
        MINIMAL_OP + COMMAND + 'timeout = "ten"\n',
        f'{OP}.timeout: expected a number of seconds greater than 0, got "ten"',
    ),
    "zero timeout": (
        MINIMAL_OP + COMMAND + "timeout = 0\n",
        f"{OP}.timeout: expected a number of seconds greater than 0, got 0",
    ),
    "infinite timeout": (
        MINIMAL_OP + COMMAND + "timeout = inf\n",
        f"{OP}.timeout: expected a number of seconds greater than 0, got inf",
    ),
    "type-level timeout": (
        "[service_types.caching]\ntimeout = true\n" + MINIMAL_OP + COMMAND,
        "service_types.caching.timeout: expected a number of seconds greater than 0, got true",
    ),
    "type-level key every operation replaces": (
        '[service_types.caching]\nkill_grace = "soon"\n'
        + MINIMAL_OP
        + COMMAND
        + "kill_grace = 1\n",
        'service_types.caching.kill_grace: expected a number of seconds, 0 or more, got "soon"',
    ),
    "type-level handler": (
        '[service_types.caching]\nhandler = "python:x"\n' + MINIMAL_OP + COMMAND,
        'service_types.caching.handler: expected "python:package.module:callable", got "python:x"',
    ),
    "fractional attempts": (
        MINIMAL_OP + COMMAND + "attempts = 1.5\n",
        f"{OP}.attempts: expected a whole number, 1 or more, got 1.5",
    ),
    "zero attempts": (
        MINIMAL_OP + COMMAND + "attempts = 0\n",
        f"{OP}.attempts: expected a whole number, 1 or more, got 0",
    ),
    "negative backoff": (
        MINIMAL_OP + COMMAND + "backoff = -1\n",
        f"{OP}.backoff: expected a number of seconds, 0 or more, got -1",
    ),
    "env value not a string": (
        MINIMAL_OP + COMMAND + "env = { PORT = 6380 }\n",
        f"{OP}.env.PORT: expected a string, got 6380",
    ),
    "reserved env name": (
        MINIMAL_OP + COMMAND + 'secret_env = { ACTIVITYLOG_JOB_ID = "1" }\n',
        f"{OP}.secret_env.ACTIVITYLOG_JOB_ID: names starting with ACTIVITYLOG_ are reserved",
    ),
    "bad env name": (
        MINIMAL_OP + COMMAND + 'env = { "A-B" = "1" }\n',
        f'{OP}.env.A-B: expected an environment variable name, got "A-B"',
    ),
    "bad pass_env": (
        MINIMAL_OP + COMMAND + 'pass_env = ["HOME", "x y"]\n',
        f'{OP}.pass_env[1]: expected an environment variable name, got "x y"',
    ),
    "redact not a list": (
        MINIMAL_OP + COMMAND + 'redact = "hunter2"\n',
        f'{OP}.redact: expected a list of non-empty strings, got "hunter2"',
    ),
    "missing cwd": (
        MINIMAL_OP + COMMAND + 'cwd = "nowhere"\n',
        f'{OP}.cwd: expected an existing directory, got "nowhere"',
    ),
    "short max_line_length": (
        MINIMAL_OP + COMMAND + "max_line_length = 10\n",
        f"{OP}.max_line_length: expected a whole number, 80 or more, got 10",
    ),
    "description not a string": (
        "[service_types.caching]\ndescription = 1\n" + MINIMAL_OP + COMMAND,
        "service_types.caching.description: expected a string, got 1",
    ),
}


@pytest.mark.parametrize(("text", "problem"), INVALID.values(), ids=INVALID.keys())
def test_invalid_files_name_the_key_and_what_is_expected(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(errors.InvalidConfiguration) as invalid:
        load_config(path)

    assert invalid.value.message == f"{path}: {problem}"


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    with pytest.raises(errors.InvalidConfiguration) as invalid:
        load_config(path)

    assert invalid.value.message == f"{path}: cannot read it: No such file or directory"


def test_warn_as_succeed_is_read_per_service_type(tmp_path: Path) -> None:
    path = tmp_path / "activitylog.toml"
    path.write_text(
        "[service_types.jaas]\nwarn_as_succeed = true\n"
        '[service_types.jaas.operations.CREATE_SERVICE]\nhandler = "command"\n'
        'command = ["true"]\n'
        '[service_types.other.operations.CREATE_SERVICE]\nhandler = "command"\n'
        'command = ["true"]\n'
    )

    config = load_config(path)

    assert [(t.name, t.warn_as_succeed) for t in config.service_types] == [
        ("jaas", True),
        ("other", False),
    ]
    path.write_text(path.read_text().replace("= true", '= "yes"'))
    with pytest.raises(errors.InvalidConfiguration, match=r"warn_as_succeed: expected true or"):
        load_config(path)
