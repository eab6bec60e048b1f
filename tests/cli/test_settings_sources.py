"""One precedence rule for the settings of `serve`, `worker` and `prune`: flag > environment >
the --config file's [settings] > default; and `activitylog config show`, which tells which one
set each setting, with no secret in its output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from activitylog import logs, serving
from activitylog.cli import main
from activitylog.cli.config_commands import redacted
from activitylog.settings import Settings

SERVICE_TYPES = """
[service_types.caching.operations.CREATE_SERVICE]
handler = "command"
command = ["true"]
"""


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `worker` and `serve` would run with (nothing is started)."""
    seen: list[Settings] = []

    async def run_worker_process(settings: Settings, **_: Any) -> None:
        seen.append(settings)

    def create_app(settings: Settings) -> None:
        seen.append(settings)
        raise click.exceptions.Exit(0)

    monkeypatch.setattr(serving, "run_worker_process", run_worker_process)
    monkeypatch.setattr(serving, "create_app", create_app)
    monkeypatch.setattr(logs, "configure_logging", lambda *args, **kwargs: None)
    return seen


def _config(tmp_path: Path, settings: str) -> str:
    path = tmp_path / "activitylog.toml"
    path.write_text(f"[settings]\n{settings}\n{SERVICE_TYPES}")
    return str(path)


def _run(arguments: list[str], env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, arguments, env=env or {})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_each_source_and_the_precedence(
    command: str, tmp_path: Path, started: list[Settings]
) -> None:
    config = _config(tmp_path, "prune_batch_size = 111\nconcurrency = 3")
    env = {"ACTIVITYLOG_PRUNE_BATCH_SIZE": "222"}
    _run([command])  # default
    _run([command, "--config", config])  # file
    _run([command, "--config", config], env)  # environment over file
    _run([command, "--config", config, "--prune-batch-size", "333"], env)  # flag over all
    default = Settings().prune_batch_size
    assert [s.prune_batch_size for s in started] == [default, 111, 222, 333]
    assert [s.concurrency for s in started] == [Settings().concurrency, 3, 3, 3]


def test_the_config_file_can_come_from_the_environment(
    tmp_path: Path, started: list[Settings]
) -> None:
    config = _config(tmp_path, 'db = "other.db"')
    _run(["worker"], {"ACTIVITYLOG_CONFIG": config})
    assert started[0].db == "other.db"


def test_the_retention_tables_days_is_the_files_retention_days(
    tmp_path: Path, started: list[Settings]
) -> None:
    path = tmp_path / "activitylog.toml"
    path.write_text(f"[retention]\ndays = 7\n{SERVICE_TYPES}")
    _run(["worker", "--config", str(path)])
    assert started[0].retention_days == 7.0

    path.write_text(f"[settings]\nretention_days = 9\n[retention]\ndays = 7\n{SERVICE_TYPES}")
    result = CliRunner().invoke(main, ["worker", "--config", str(path)], env={})
    assert result.exit_code == 1
    assert "retention.days: settings.retention_days is set too" in result.output


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("port = 0.5", "settings.port: expected a whole number, got 0.5"),
        ("run_worker = 1", "settings.run_worker: expected true or false, got 1"),
        ("trusted_hosts = 'a'", "settings.trusted_hosts: expected a list of strings"),
        ("retention_days = '7'", "settings.retention_days: expected a number, got '7'"),
        ("prune_batch_size = 0", "settings.prune_batch_size: 0 is not in the range"),
        ("colour = 1", "settings.colour: unknown setting; expected one of: "),
        ("config = 'x.toml'", "settings.config: unknown setting"),
    ],
)
def test_a_wrong_file_value_is_refused_naming_its_key(
    settings: str, expected: str, tmp_path: Path, started: list[Settings]
) -> None:
    config = _config(tmp_path, settings)
    for command in ("serve", "worker", "prune"):
        result = CliRunner().invoke(main, [command, "--config", config], env={})
        assert result.exit_code == 1, result.output
        assert f"Error: {config}: {expected}" in result.output
    assert started == []


def test_a_file_value_goes_through_its_flags_checks(tmp_path: Path) -> None:
    config = _config(tmp_path, 'cors_origins = ["https://a.example/path"]')
    result = CliRunner().invoke(main, ["serve", "--config", config], env={})
    assert result.exit_code == 1
    assert "settings.cors_origins: 'https://a.example/path' is not an origin" in result.output


def test_prune_takes_the_files_settings_too(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    config = _config(tmp_path, f'db = "{db}"\nretention_days = 3')
    output = _run(["prune", "--config", config, "--dry-run"])
    assert "would remove 0 ended jobs" in output
    assert Path(db).exists()


def test_config_show_says_where_each_setting_came_from(tmp_path: Path) -> None:
    config = _config(tmp_path, "port = 9001\nprune_batch_size = 111\nconcurrency = 3")
    env = {
        "ACTIVITYLOG_DB": "postgresql://app:s3cret@db.example/activitylog?sslpassword=pw2",
        "ACTIVITYLOG_PRUNE_BATCH_SIZE": "222",
    }
    output = _run(
        ["config", "show", "--config", config, "--concurrency", "5", "--host", "192.0.2.10"], env
    )

    rows = {line.split()[0]: line.split(None, 2)[1:] for line in output.splitlines()[2:]}
    assert rows["db"] == [
        "postgresql://app:***@db.example/activitylog?sslpassword=***",
        "environment ACTIVITYLOG_DB",
    ]
    assert rows["port"] == ["9001", f"file {config}: settings.port"]
    assert rows["prune_batch_size"] == ["222", "environment ACTIVITYLOG_PRUNE_BATCH_SIZE"]
    assert rows["concurrency"] == ["5", "flag --concurrency"]
    assert rows["host"] == ["192.0.2.10", "flag --host"]
    assert rows["lease_seconds"] == ["30.0", "default"]
    assert rows["max_body_bytes"] == ["65536", "default (no flag)"]
    assert "s3cret" not in output
    assert "pw2" not in output


def test_config_show_refuses_a_wrong_file(tmp_path: Path) -> None:
    config = _config(tmp_path, "port = 'eighty'")
    result = CliRunner().invoke(main, ["config", "show", "--config", config], env={})
    assert result.exit_code == 1
    assert "settings.port" in result.output


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("db", "postgresql://u:p%40ss@h:5432/d", "postgresql://u:***@h:5432/d"),
        (
            "db",
            "postgresql://u@h/d?password=x&sslmode=require",
            "postgresql://u@h/d?password=***&sslmode=require",
        ),
        ("db", "/var/lib/activitylog/activitylog.db", "/var/lib/activitylog/activitylog.db"),
        ("oidc_client_secret", "abc", "***"),
        ("admin_password", "abc", "***"),
        ("api_token", "abc", "***"),
        ("oidc_jwks_url", "https://u:pw@idp.example/jwks", "https://u:***@idp.example/jwks"),
        ("token_max_days", 366, 366),
        ("trusted_hosts", ("a", "http://x:y@b"), ("a", "http://x:***@b")),
        ("oidc_issuer", None, None),
    ],
)
def test_redaction(name: str, value: Any, shown: Any) -> None:
    assert redacted(name, value) == shown
