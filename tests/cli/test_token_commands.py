"""`activitylog token create|list|revoke` through click's CliRunner, against a real server."""

from __future__ import annotations

import json

import pytest

from activitylog.client import Client
from tests.cli.test_client_commands import RunCli, logged_in, profile_file, run_cli  # noqa: F401
from tests.client.conftest import DOMAIN
from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.e2e


def test_create_prints_the_secret_once_then_list_and_revoke(
    server: RunningServer,
    logged_in: RunCli,  # noqa: F811 - the imported fixture
) -> None:
    created = logged_in("token", "create", "deploy", "--role", "viewer", "--days", "3")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("altk_")
    assert "not shown again" in created.stderr

    with Client(server.url, token=secret, identity_domain=DOMAIN) as automation:
        assert automation.activity_page(limit=1).total_count >= 0

    listed = logged_in("token", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [token] = json.loads(listed.stdout)["tokens"]
    assert (token["name"], token["role"]) == ("deploy", "viewer")
    assert "token" not in token
    table = logged_in("token", "list")
    assert "deploy" in table.stdout

    revoked = logged_in("token", "revoke", str(token["id"]))
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(logged_in("token", "list", "--json").stdout) == {"tokens": []}
    again = logged_in("token", "revoke", str(token["id"]))
    assert again.exit_code == 1
    assert "404" in again.output
