"""The configuration file (``activitylog.toml``): service types, their operations' handlers and
policies, parsed once at start-up into frozen dataclasses.

Every problem is reported as ``InvalidConfiguration`` naming the file, the key path and what is
expected, so that a typo stops the process before it serves anything. docs/handlers.md describes
the keys.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any

from activitylog import errors
from activitylog.domain.parameters import KINDS, PARAMETER_OPERATIONS, DeclaredParameter


@dataclasses.dataclass(frozen=True, slots=True)
class OperationPolicy:
    """How the engine runs an operation: a time limit, and how often to try it."""

    timeout: float | None = None
    """Seconds the handler may run before it is cancelled and the job FAILED; None: no limit."""
    attempts: int = 1
    backoff: float = 0.0
    """Seconds to wait before another attempt."""


@dataclasses.dataclass(frozen=True, slots=True)
class CommandConfig:
    """What the ``command`` handler runs, and the limits on what it reports."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    secret_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Passed like ``env``; the values are also redacted from every message."""
    pass_env: tuple[str, ...] = ()
    """Names of the server's own environment variables the command also gets."""
    redact: tuple[str, ...] = ()
    kill_grace: float = 5.0
    """Seconds between SIGTERM and SIGKILL when the command is stopped."""
    max_line_length: int = 4096
    max_output_lines: int = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class OperationConfig:
    name: str
    handler: str
    """``command``, or ``python:package.module:callable``."""
    handler_key: str
    """The key path the handler was set at, for errors found when it is loaded."""
    policy: OperationPolicy
    command: CommandConfig | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceTypeConfig:
    name: str
    operations: tuple[OperationConfig, ...]
    description: str = ""
    validate_parameters: str | None = None
    """``python:package.module:callable``, checking a request's parameters at submission."""
    warn_as_succeed: bool = False
    """Its jobs that end WARN read SUCCEED on the wire, for clients that know no WARN."""
    parameters: tuple[DeclaredParameter, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    path: Path
    service_types: tuple[ServiceTypeConfig, ...]

    def error(self, key: str, problem: str) -> errors.InvalidConfiguration:
        return errors.InvalidConfiguration(self.path, key, problem)


COMMAND_HANDLER = "command"
PYTHON_REFERENCE = re.compile(r"python:([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*(?:\.\w+)*)")
_SERVICE_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,49}")
_OPERATION_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESERVED_ENV_PREFIX = "ACTIVITYLOG_"
_HANDLER_EXPECTED = '"command" or "python:package.module:callable"'
_COMMAND_EXPECTED = 'a non-empty list of strings, e.g. ["python3", "operation.py"]'
# Keys an operation may set, and its service type may set for all of its operations.
_OPERATION_KEYS = frozenset(
    {
        "handler", "command", "cwd", "env", "secret_env", "pass_env", "redact", "kill_grace",
        "max_line_length", "max_output_lines", "timeout", "attempts", "backoff",
    }
)  # fmt: skip
_SERVICE_TYPE_KEYS = _OPERATION_KEYS | {
    "description", "validate_parameters", "operations", "warn_as_succeed", "parameters",
}  # fmt: skip
_PARAMETER_KEYS = frozenset(
    {"type", "description", "required_for", "enum", "pattern", "max_length", "minimum", "maximum"}
)
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_COMMAND_ONLY_KEYS = _OPERATION_KEYS - {"handler", "timeout", "attempts", "backoff"}


def load_config(path: str | Path) -> Config:
    """Read and check the configuration file, or raise InvalidConfiguration."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise errors.InvalidConfiguration(path, None, f"cannot read it: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise errors.InvalidConfiguration(path, None, f"not valid TOML: {exc}") from exc
    return parse_config(document, path)


def parse_config(document: Mapping[str, Any], path: Path) -> Config:
    reader = _Reader(path)
    # [retention] is read by engine/retention_config.py, [settings] by cli/settings_sources.py.
    reader.check_keys(document, "", {"service_types", "retention", "settings"})
    types = reader.required_table(document, "", "service_types")
    if not types:
        raise reader.error("service_types", "expected at least one service type table")
    parsed = tuple(reader.service_type(name, table) for name, table in types.items())
    return Config(path=path, service_types=parsed)


class _Reader:
    """Typed reads from the parsed document; every failure names its key path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base_dir = path.parent

    def error(self, key: str, problem: str) -> errors.InvalidConfiguration:
        return errors.InvalidConfiguration(self.path, key, problem)

    def service_type(self, name: str, table: Any) -> ServiceTypeConfig:
        key = f"service_types.{name}"
        if not _SERVICE_TYPE_NAME.fullmatch(name):
            raise self.error(key, "expected a letter, then up to 49 letters, digits, - or _")
        table = self.expect_table(table, key)
        self.check_keys(table, key, _SERVICE_TYPE_KEYS)
        operations = self.required_table(table, key, "operations")
        if not operations:
            raise self.error(f"{key}.operations", "expected at least one operation table")
        defaults = {k: (v, f"{key}.{k}") for k, v in table.items() if k in _OPERATION_KEYS}
        self.check_defaults(defaults)
        validator = self.optional_string(table, key, "validate_parameters")
        if validator is not None:
            self.python_reference(validator, f"{key}.validate_parameters")
        return ServiceTypeConfig(
            name=name,
            operations=tuple(
                self.operation(f"{key}.operations.{op}", op, body, defaults)
                for op, body in operations.items()
            ),
            description=self.optional_string(table, key, "description") or "",
            validate_parameters=validator,
            warn_as_succeed=self.optional_bool(table, key, "warn_as_succeed"),
            parameters=self.parameters(table, key),
        )

    def parameters(self, table: Mapping[str, Any], key: str) -> tuple[DeclaredParameter, ...]:
        declared = self.expect_table(table.get("parameters", {}), f"{key}.parameters")
        return tuple(
            self.parameter(f"{key}.parameters.{name}", name, body)
            for name, body in declared.items()
        )

    def parameter(self, key: str, name: str, table: Any) -> DeclaredParameter:
        if not _PARAMETER_NAME.fullmatch(name) or name in {"serviceName", "serviceDescription"}:
            raise self.error(
                key,
                "expected a parameter name other than serviceName and "
                "serviceDescription: a letter or _, then letters, digits, _ . or -",
            )
        table = self.expect_table(table, key)
        self.check_keys(table, key, _PARAMETER_KEYS)
        kind = table.get("type", "string")
        if kind not in KINDS:
            raise self.error(
                f"{key}.type", f"expected one of {', '.join(KINDS)}, got {_show(kind)}"
            )
        here = {k: (v, f"{key}.{k}") for k, v in table.items()}
        required_for = self.strings(here, "required_for")
        for operation in required_for:
            if operation not in PARAMETER_OPERATIONS:
                raise self.error(
                    f"{key}.required_for",
                    f"expected operations among "
                    f"{', '.join(PARAMETER_OPERATIONS)}, got {_show(operation)}",
                )
        pattern = self.optional_string(table, key, "pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.error(f"{key}.pattern", f"not a regular expression: {exc}") from exc
        minimum = self.integer(here, "minimum", minimum=0) or 0
        maximum = self.integer(here, "maximum", minimum=minimum)
        return DeclaredParameter(
            name=name,
            kind=kind,
            description=self.optional_string(table, key, "description") or "",
            required_for=frozenset(required_for),
            enum=self.strings(here, "enum"),
            pattern=pattern,
            max_length=self.integer(here, "max_length", minimum=1),
            minimum=minimum,
            maximum=maximum,
        )

    def operation(
        self, key: str, name: str, table: Any, defaults: Mapping[str, tuple[Any, str]]
    ) -> OperationConfig:
        if not _OPERATION_NAME.fullmatch(name):
            raise self.error(key, "expected an operation name in capitals, e.g. CREATE_SERVICE")
        table = self.expect_table(table, key)
        self.check_keys(table, key, _OPERATION_KEYS)
        # An operation's own key replaces its service type's (tables are not merged).
        merged = {**defaults, **{k: (v, f"{key}.{k}") for k, v in table.items()}}
        if "handler" not in merged:
            raise self.error(f"{key}.handler", f"missing; expected {_HANDLER_EXPECTED}")
        handler, handler_key = merged["handler"]
        self.handler(handler, handler_key)
        command = None
        if handler == COMMAND_HANDLER:
            if "command" not in merged:
                raise self.error(f"{key}.command", f"missing; expected {_COMMAND_EXPECTED}")
            command = CommandConfig(self.argv(*merged["command"]), **self.command_options(merged))
        else:
            self.refuse_command_keys(table, key)
        return OperationConfig(name, handler, handler_key, self.policy(merged), command)

    def check_defaults(self, defaults: Mapping[str, tuple[Any, str]]) -> None:
        """A service type's own keys, checked even where every operation replaces them."""
        if "handler" in defaults:
            self.handler(*defaults["handler"])
        if "command" in defaults:
            self.argv(*defaults["command"])
        self.command_options(defaults)
        self.policy(defaults)

    def handler(self, value: Any, key: str) -> None:
        if value == COMMAND_HANDLER:
            return
        if not (isinstance(value, str) and value.startswith("python:")):
            raise self.error(key, f"expected {_HANDLER_EXPECTED}, got {_show(value)}")
        self.python_reference(value, key)

    def argv(self, value: Any, key: str) -> tuple[str, ...]:
        if not (isinstance(value, list) and value and all(isinstance(a, str) and a for a in value)):
            raise self.error(key, f"expected {_COMMAND_EXPECTED}, got {_show(value)}")
        return tuple(value)

    def policy(self, merged: Mapping[str, tuple[Any, str]]) -> OperationPolicy:
        timeout = self.number(merged, "timeout", "a number of seconds greater than 0", above=0)
        attempts = self.integer(merged, "attempts", minimum=1)
        backoff = self.number(merged, "backoff", "a number of seconds, 0 or more", at_least=0)
        return OperationPolicy(
            timeout=timeout,
            attempts=1 if attempts is None else attempts,
            backoff=0.0 if backoff is None else backoff,
        )

    def command_options(self, merged: Mapping[str, tuple[Any, str]]) -> dict[str, Any]:
        """CommandConfig's fields other than argv: those set, checked, and the directory."""
        options: dict[str, Any] = {
            "cwd": self.directory(merged),
            "env": self.env_table(merged, "env"),
            "secret_env": self.env_table(merged, "secret_env"),
            "pass_env": self.env_names(merged),
            "redact": self.strings(merged, "redact"),
            "kill_grace": self.number(
                merged, "kill_grace", "a number of seconds, 0 or more", at_least=0
            ),
            "max_line_length": self.integer(merged, "max_line_length", minimum=80),
            "max_output_lines": self.integer(merged, "max_output_lines", minimum=1),
        }
        return {name: value for name, value in options.items() if value is not None}

    def refuse_command_keys(self, table: Mapping[str, Any], key: str) -> None:
        # Only the operation's own keys: its service type's apply to its command operations.
        for name in sorted(_COMMAND_ONLY_KEYS & table.keys()):
            raise self.error(f"{key}.{name}", 'only used with handler = "command"')

    def python_reference(self, value: str, key: str) -> None:
        if not PYTHON_REFERENCE.fullmatch(value):
            raise self.error(key, f'expected "python:package.module:callable", got {_show(value)}')

    def directory(self, merged: Mapping[str, tuple[Any, str]]) -> Path:
        if "cwd" not in merged:
            return self.base_dir
        value, key = merged["cwd"]
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected a directory path, got {_show(value)}")
        directory = self.base_dir / value  # relative to the file, not to the server's cwd
        if not directory.is_dir():
            raise self.error(key, f"expected an existing directory, got {_show(value)}")
        return directory

    def env_table(self, merged: Mapping[str, tuple[Any, str]], name: str) -> dict[str, str]:
        if name not in merged:
            return {}
        value, key = merged[name]
        table = self.expect_table(value, key)
        for variable, text in table.items():
            self.env_name(variable, f"{key}.{variable}")
            if not isinstance(text, str):
                raise self.error(f"{key}.{variable}", f"expected a string, got {_show(text)}")
        return dict(table)

    def env_names(self, merged: Mapping[str, tuple[Any, str]]) -> tuple[str, ...]:
        names = self.strings(merged, "pass_env")
        for index, name in enumerate(names):
            self.env_name(name, f"{merged['pass_env'][1]}[{index}]")
        return names

    def env_name(self, name: str, key: str) -> None:
        if not _ENV_NAME.fullmatch(name):
            raise self.error(key, f"expected an environment variable name, got {_show(name)}")
        if name.upper().startswith(_RESERVED_ENV_PREFIX):
            raise self.error(key, f"names starting with {_RESERVED_ENV_PREFIX} are reserved")

    def strings(self, merged: Mapping[str, tuple[Any, str]], name: str) -> tuple[str, ...]:
        if name not in merged:
            return ()
        value, key = merged[name]
        if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
            raise self.error(key, f"expected a list of non-empty strings, got {_show(value)}")
        return tuple(value)

    def number(
        self,
        merged: Mapping[str, tuple[Any, str]],
        name: str,
        expected: str,
        *,
        above: float | None = None,
        at_least: float | None = None,
    ) -> float | None:
        if name not in merged:
            return None
        value, key = merged[name]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        in_range = (
            numeric
            and math.isfinite(value)
            and (above is None or value > above)
            and (at_least is None or value >= at_least)
        )
        if not in_range:
            raise self.error(key, f"expected {expected}, got {_show(value)}")
        return float(value)

    def integer(
        self, merged: Mapping[str, tuple[Any, str]], name: str, *, minimum: int
    ) -> int | None:
        if name not in merged:
            return None
        value, key = merged[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"expected a whole number, {minimum} or more, got {_show(value)}")
        return value

    def optional_bool(self, table: Mapping[str, Any], key: str, name: str) -> bool:
        value = table.get(name, False)
        if not isinstance(value, bool):
            raise self.error(f"{key}.{name}", f"expected true or false, got {_show(value)}")
        return value

    def optional_string(self, table: Mapping[str, Any], key: str, name: str) -> str | None:
        value = table.get(name)
        if value is not None and not isinstance(value, str):
            raise self.error(f"{key}.{name}", f"expected a string, got {_show(value)}")
        return value

    def required_table(self, parent: Mapping[str, Any], key: str, name: str) -> dict[str, Any]:
        where = f"{key}.{name}" if key else name
        if name not in parent:
            raise self.error(where, "missing; expected a table")
        return self.expect_table(parent[name], where)

    def expect_table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {_show(value)}")
        return value

    def check_keys(self, table: Mapping[str, Any], key: str, allowed: Set[str]) -> None:
        for name in table:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                known = ", ".join(sorted(allowed))
                raise self.error(where, f"unknown key; expected one of: {known}")


def _show(value: Any) -> str:
    """A TOML value as the error message quotes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"  # dates and times
