"""The lease, rescue and grace options of `serve` and `worker`: flags, environment, checks."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from activitylog import logs, serving
from activitylog.cli import main
from activitylog.settings import Settings


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `activitylog worker` would run with (nothing is started)."""
    seen: list[Settings] = []

    async def run_worker_process(settings: Settings, **_: Any) -> None:
        seen.append(settings)

    monkeypatch.setattr(serving, "run_worker_process", run_worker_process)
    monkeypatch.setattr(logs, "configure_logging", lambda *args, **kwargs: None)
    return seen


def test_flags_and_environment_set_the_engine_settings(started: list[Settings]) -> None:
    result = CliRunner().invoke(
        main,
        ["worker", "--lease-seconds", "2", "--heartbeat-seconds", "0.5", "--cancel-grace", "0"],
        env={"ACTIVITYLOG_RESCUE_INTERVAL": "0.25", "ACTIVITYLOG_SHUTDOWN_GRACE": "3"},
    )

    assert result.exit_code == 0, result.output
    (settings,) = started
    assert (settings.lease_seconds, settings.heartbeat_seconds) == (2.0, 0.5)
    assert (settings.rescue_interval, settings.cancel_grace, settings.shutdown_grace) == (
        0.25,
        0.0,
        3.0,
    )


def test_the_defaults(started: list[Settings]) -> None:
    assert CliRunner().invoke(main, ["worker"], env={}).exit_code == 0
    (settings,) = started
    defaults = Settings()
    for name in ("lease_seconds", "heartbeat_seconds", "rescue_interval", "shutdown_grace"):
        assert getattr(settings, name) == getattr(defaults, name)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_heartbeat_no_shorter_than_the_lease_is_refused(command: str) -> None:
    result = CliRunner().invoke(
        main, [command, "--lease-seconds", "5", "--heartbeat-seconds", "5"], env={}
    )

    assert result.exit_code == 2
    assert "--heartbeat-seconds must be below --lease-seconds" in result.output


def test_the_database_pool_size_comes_from_its_flag_or_its_variable(
    started: list[Settings],
) -> None:
    assert CliRunner().invoke(main, ["worker", "--db-pool-size", "7"], env={}).exit_code == 0
    env = {"ACTIVITYLOG_DB_POOL_SIZE": "30"}
    assert CliRunner().invoke(main, ["worker"], env=env).exit_code == 0
    assert CliRunner().invoke(main, ["worker"], env={}).exit_code == 0
    assert [settings.db_pool_size for settings in started] == [7, 30, Settings().db_pool_size]
    refused = CliRunner().invoke(main, ["worker", "--db-pool-size", "0"], env={})
    assert refused.exit_code == 2


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_help_names_the_pool_size_variable_and_its_default(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"], env={}, terminal_width=200)

    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "--db-pool-size" in line)
    assert "env var: ACTIVITYLOG_DB_POOL_SIZE;" in line
    assert "default: 20;" in line
