"""The failed-authentication limits of `serve`: flags, environment variables, defaults."""

from __future__ import annotations

from typing import NoReturn

import pytest
from click.testing import CliRunner

from activitylog import logs, serving
from activitylog.cli import main
from activitylog.settings import Settings

LIMITS = (
    "auth_failure_window",
    "auth_max_failures_per_address",
    "auth_max_failures_per_user",
    "auth_ban_seconds",
    "auth_max_ban_seconds",
    "auth_refusal_delay",
    "credential_cache_ttl",
)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `activitylog serve` would build its app with (nothing is started)."""
    seen: list[Settings] = []

    def create_app(settings: Settings) -> NoReturn:
        seen.append(settings)
        raise SystemExit(0)

    monkeypatch.setattr(serving, "create_app", create_app)
    monkeypatch.setattr(logs, "configure_logging", lambda *args, **kwargs: None)
    return seen


def test_flags_and_environment_set_the_limits(served: list[Settings]) -> None:
    result = CliRunner().invoke(
        main,
        ["serve", "--auth-max-failures-per-address", "0", "--auth-ban-seconds", "5"],
        env={"ACTIVITYLOG_AUTH_MAX_FAILURES_PER_USER": "3", "ACTIVITYLOG_AUTH_FAILURE_WINDOW": "9"},
    )

    assert result.exit_code == 0, result.output
    (settings,) = served
    assert [getattr(settings, name) for name in LIMITS] == [9, 0, 3, 5, 3600, 5.0, 60.0]


def test_the_defaults_are_the_settings_defaults(served: list[Settings]) -> None:
    assert CliRunner().invoke(main, ["serve"], env={}).exit_code == 0
    (settings,) = served
    for name in LIMITS:
        assert getattr(settings, name) == getattr(Settings(), name), name


def test_a_ban_of_zero_seconds_is_refused() -> None:
    result = CliRunner().invoke(main, ["serve", "--auth-ban-seconds", "0"], env={})

    assert result.exit_code == 2
    assert "--auth-ban-seconds" in result.output
