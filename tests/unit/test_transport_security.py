"""When `serve` refuses to start: plain HTTP with Basic credentials off loopback."""

from __future__ import annotations

import pytest

from activitylog.settings import Settings
from activitylog.transport_security import is_loopback, serving_problem


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"]
)
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "10.0.0.1", "192.0.2.10", "example.com", "localhost.example.com"],  # noqa: S104
)
def test_addresses_others_can_reach(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(host="::1"),
        Settings(host="10.0.0.1", tls_certificate="c.pem", tls_key="k.pem"),
        Settings(host="10.0.0.1", behind_proxy=True),
        Settings(host="10.0.0.1", insecure_http=True),
    ],
)
def test_settings_that_may_serve(settings: Settings) -> None:
    assert serving_problem(settings) is None


def test_plain_http_off_loopback_is_refused_in_one_line() -> None:
    problem = serving_problem(Settings(host="10.0.0.1"))

    assert problem is not None
    assert "\n" not in problem
    assert "10.0.0.1" in problem


@pytest.mark.parametrize("settings", [Settings(tls_certificate="c.pem"), Settings(tls_key="k.pem")])
def test_a_certificate_without_its_key_is_refused(settings: Settings) -> None:
    problem = serving_problem(settings)

    assert problem is not None
    assert "--tls-key" in problem
