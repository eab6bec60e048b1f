"""Personal API tokens over HTTP: created (secret shown once), listed, revoked; sent as
`Authorization: Bearer`, capped by their user's role at use time, stopped at once by a
revocation or the user's deletion, here and (within the check interval) in other processes."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from activitylog.http.bearer import SECRET_PREFIX
from tests.api.conftest import OTHER_DOMAIN, ClientFor, StartApp, store_of
from tests.conftest import INSTANCES, JOB_PREFIX, USER, add_tenant

pytestmark = pytest.mark.anyio

TOKENS = f"{JOB_PREFIX}/tokens"
FILTER = f"{JOB_PREFIX}/filter"
OPERATOR, OPERATOR_PASSWORD = "operator@example.com", "operatorPassword"
CREATE = {"serviceParameters": {"serviceName": "FromToken"}}


def bearer(app: Starlette, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {secret}"},
    )


async def create_token(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(TOKENS, json={"name": "ci", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def operator(app: Starlette) -> Starlette:
    await add_tenant(store_of(app), user=OPERATOR, password=OPERATOR_PASSWORD, role="operator")
    return app


async def test_a_token_is_shown_once_and_works_as_a_bearer_credential(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    created = await create_token(client, role="operator", expiresInDays=7)
    secret = created.pop("token")
    assert secret.startswith(SECRET_PREFIX)
    assert len(secret) > 40
    assert created.keys() == {"id", "name", "user", "role", "createdBy", "createdAt", "expiresAt"}
    assert (created["name"], created["user"], created["role"]) == ("ci", USER, "operator")

    listed = (await client.get(TOKENS)).json()["tokens"]
    assert [token["id"] for token in listed] == [created["id"]]
    assert "token" not in listed[0]

    async with bearer(app, secret) as automation:
        assert (await automation.get(FILTER)).status_code == 200
        submitted = await automation.post(INSTANCES, json=CREATE)
        assert submitted.status_code == 202, submitted.text
        job = (await automation.get(submitted.headers["location"])).json()
        assert job["authUser"] == USER
        # Operator, not the admin its user is: the users API stays closed to it.
        assert (await automation.get(f"{JOB_PREFIX}/users")).status_code == 403


async def test_the_role_defaults_to_the_users_and_cannot_exceed_it(
    operator: Starlette, client_for: ClientFor
) -> None:
    ops = client_for(operator, OPERATOR, OPERATOR_PASSWORD)
    assert (await create_token(ops))["role"] == "operator"
    too_high = await ops.post(TOKENS, json={"name": "boss", "role": "admin"})
    assert too_high.status_code == 400
    assert too_high.json()["details"]["issues"] == ["role: at most the user's own role, operator"]


async def test_a_viewer_token_cannot_write(app: Starlette, client: httpx.AsyncClient) -> None:
    secret = (await create_token(client, role="viewer"))["token"]
    async with bearer(app, secret) as automation:
        assert (await automation.get(FILTER)).status_code == 200
        assert (await automation.post(INSTANCES, json=CREATE)).status_code == 403


async def test_the_role_is_capped_by_the_users_role_at_use_time(
    operator: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    secret = (await create_token(client_for(operator, OPERATOR, OPERATOR_PASSWORD)))["token"]
    async with bearer(operator, secret) as automation:
        assert (await automation.post(INSTANCES, json=CREATE)).status_code == 202
        demoted = await client.put(f"{JOB_PREFIX}/users/{OPERATOR}", json={"role": "viewer"})
        assert demoted.status_code == 200
        second = {"serviceParameters": {"serviceName": "Second"}}
        assert (await automation.post(INSTANCES, json=second)).status_code == 403
        assert (await automation.get(FILTER)).status_code == 200


async def test_a_revoked_token_stops_at_once(app: Starlette, client: httpx.AsyncClient) -> None:
    created = await create_token(client)
    async with bearer(app, created["token"]) as automation:
        assert (await automation.get(FILTER)).status_code == 200
        assert (await client.delete(f"{TOKENS}/{created['id']}")).status_code == 204
        refused = await automation.get(FILTER)
    assert refused.status_code == 401
    assert refused.json()["details"]["message"] == "The API token is not valid."
    assert (await client.get(TOKENS)).json() == {"tokens": []}
    assert (await client.delete(f"{TOKENS}/{created['id']}")).status_code == 404


async def test_deleting_the_user_stops_its_tokens_at_once(
    operator: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    secret = (await create_token(client_for(operator, OPERATOR, OPERATOR_PASSWORD)))["token"]
    async with bearer(operator, secret) as automation:
        assert (await automation.get(FILTER)).status_code == 200
        assert (await client.delete(f"{JOB_PREFIX}/users/{OPERATOR}")).status_code == 204
        assert (await automation.get(FILTER)).status_code == 401


async def test_a_revocation_in_another_process_stops_the_token_within_the_interval(
    start_app: StartApp, client_for: ClientFor
) -> None:
    here = await start_app(run_worker=False, token_check_seconds=0.2)
    elsewhere = await start_app(run_worker=False, token_check_seconds=0.2)
    created = await create_token(client_for(here))
    async with bearer(elsewhere, created["token"]) as automation:
        assert (await automation.get(FILTER)).status_code == 200
        assert (await client_for(here).delete(f"{TOKENS}/{created['id']}")).status_code == 204
        revoked_at = time.monotonic()
        with anyio.fail_after(2):
            while (await automation.get(FILTER)).status_code == 200:
                await anyio.sleep(0.02)
    assert time.monotonic() - revoked_at < 1.0


async def test_an_expired_token_is_refused(
    app: Starlette, client: httpx.AsyncClient, sqlite_path: str
) -> None:
    created = await create_token(client)
    with contextlib.closing(sqlite3.connect(sqlite_path)) as connection, connection:
        connection.execute(
            "UPDATE api_tokens SET expires_at = 1 WHERE token_id = ?", (created["id"],)
        )
    async with bearer(app, created["token"]) as automation:
        refused = await automation.get(FILTER)
    assert refused.status_code == 401
    assert refused.json()["details"]["message"] == "The API token has expired."


async def test_a_token_is_not_valid_in_another_domain(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await add_tenant(store_of(app), domain=OTHER_DOMAIN, user="ann@other.example")
    secret = (await create_token(client))["token"]
    async with bearer(app, secret) as automation:
        refused = await automation.get(f"/paas/api/v1.1/activitylog/{OTHER_DOMAIN}/filter")
    assert refused.status_code == 401
    assert refused.json()["details"]["message"] == (
        f"The API token is not valid in identity domain [{OTHER_DOMAIN}]."
    )


async def test_an_unknown_token_is_refused(app: Starlette) -> None:
    async with bearer(app, SECRET_PREFIX + "x" * 43) as automation:
        assert (await automation.get(FILTER)).status_code == 401


async def test_a_token_cannot_create_tokens(app: Starlette, client: httpx.AsyncClient) -> None:
    secret = (await create_token(client, role="admin"))["token"]
    async with bearer(app, secret) as automation:
        refused = await automation.post(TOKENS, json={"name": "child"})
        assert refused.status_code == 403
        assert (await automation.get(TOKENS)).status_code == 200


async def test_users_manage_their_own_tokens_and_admins_everyones(
    operator: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    ops = client_for(operator, OPERATOR, OPERATOR_PASSWORD)
    own = await create_token(ops, name="own")
    for_ops = await create_token(client, name="given", user=OPERATOR)
    admins = await create_token(client, name="admins")
    assert for_ops["user"] == OPERATOR
    assert for_ops["createdBy"] == USER

    assert [t["id"] for t in (await ops.get(TOKENS)).json()["tokens"]] == [own["id"], for_ops["id"]]
    assert len((await client.get(TOKENS)).json()["tokens"]) == 3
    by_user = await client.get(TOKENS, params={"user": OPERATOR})
    assert len(by_user.json()["tokens"]) == 2
    assert (await ops.get(TOKENS, params={"user": USER})).status_code == 403
    assert (await ops.post(TOKENS, json={"name": "x", "user": USER})).status_code == 403
    assert (await ops.delete(f"{TOKENS}/{admins['id']}")).status_code == 404
    assert (await ops.delete(f"{TOKENS}/{own['id']}")).status_code == 204
    assert (await client.delete(f"{TOKENS}/{for_ops['id']}")).status_code == 204


@pytest.mark.parametrize(
    ("body", "issue"),
    [
        ({"name": ""}, "name: expected 1 to 100 letters"),
        ({"name": "ok", "role": "root"}, "role: expected one of viewer, operator, admin"),
        ({"name": "ok", "expiresInDays": 0}, "expiresInDays: expected a whole number from 1"),
        ({"name": "ok", "expiresInDays": 10_000}, "expiresInDays: expected a whole number"),
        ({"name": "ok", "expiresInDays": True}, "expiresInDays: expected a whole number"),
    ],
)
async def test_an_invalid_token_request_is_400(
    client: httpx.AsyncClient, body: dict[str, Any], issue: str
) -> None:
    response = await client.post(TOKENS, json=body)
    assert response.status_code == 400
    [reported] = response.json()["details"]["issues"]
    assert reported.startswith(issue)


async def test_a_duplicate_name_is_409(client: httpx.AsyncClient) -> None:
    await create_token(client)
    assert (await client.post(TOKENS, json={"name": "ci"})).status_code == 409


async def test_last_use_is_written_once_per_interval(
    start_app: StartApp, client_for: ClientFor, sqlite_path: str
) -> None:
    app = await start_app(run_worker=False, token_use_interval=3600)
    created = await create_token(client_for(app))

    def last_used() -> int | None:
        with contextlib.closing(sqlite3.connect(sqlite_path)) as connection:
            row = connection.execute(
                "SELECT last_used_at FROM api_tokens WHERE token_id = ?", (created["id"],)
            ).fetchone()
        return None if row[0] is None else int(row[0])

    assert last_used() is None
    async with bearer(app, created["token"]) as automation:
        assert (await automation.get(FILTER)).status_code == 200
        first = last_used()
        assert first is not None
        for _ in range(5):
            assert (await automation.get(FILTER)).status_code == 200
    assert last_used() == first
    [listed] = (await client_for(app).get(TOKENS)).json()["tokens"]
    assert "lastUsedAt" in listed


async def test_the_job_status_fast_path_answers_a_trusted_token(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    secret = (await create_token(client))["token"]
    async with bearer(app, secret) as automation:
        submitted = await client.post(INSTANCES, json=CREATE)
        location = submitted.headers["location"]
        fast_path = app.fast_path  # type: ignore[attr-defined]
        answered = 0
        answer = fast_path.answer

        async def counting(scope: Any, send: Any) -> bool:
            nonlocal answered
            done: bool = await answer(scope, send)
            answered += done
            return done

        fast_path.answer = counting
        for _ in range(3):
            assert (await automation.get(location)).status_code == 200
        assert answered >= 1
