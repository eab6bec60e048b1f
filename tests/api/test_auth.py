"""HTTP Basic against the path's identity domain, X-ID-TENANT-NAME, roles, and the cache."""

from __future__ import annotations

import asyncio
import base64
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from activitylog.http.auth import Authenticator
from tests.api.conftest import (
    OTHER_DOMAIN,
    OTHER_PASSWORD,
    OTHER_USER,
    ClientFor,
    StartApp,
    count_verifies,
    create_cache,
    running_cache,
    store_of,
)
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, PASSWORD, USER, add_tenant

pytestmark = pytest.mark.anyio

FILTER = f"{JOB_PREFIX}/filter"
USERS = f"{JOB_PREFIX}/users"
FAILED = "Authentication failed: check the user name, the password and the identity domain."
VIEWER, OPERATOR = "viewer@example.com", "operator@example.com"
VIEWER_PASSWORD, OPERATOR_PASSWORD = "viewerPassword", "operatorPassword"


def _unauthorized(message: str) -> dict[str, Any]:
    return {"status": "401", "details": {"message": message}}


def _assert_401(response: httpx.Response, message: str) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="activitylog"'
    assert response.headers["content-type"] == "application/json"
    assert response.json() == _unauthorized(message)


@pytest.fixture
async def staff(app: Starlette) -> Starlette:
    """The app, with a viewer and an operator besides the admin."""
    await add_tenant(store_of(app), user=VIEWER, password=VIEWER_PASSWORD, role="viewer")
    await add_tenant(store_of(app), user=OPERATOR, password=OPERATOR_PASSWORD, role="operator")
    return app


async def test_missing_credentials_is_401_with_challenge(
    app: Starlette, client_for: ClientFor
) -> None:
    anonymous = client_for(app, user=None)

    for response in (await anonymous.get(FILTER), await anonymous.post(INSTANCES, json={})):
        _assert_401(
            response, "Send HTTP Basic credentials (Authorization: Basic base64(user:password))."
        )


@pytest.mark.parametrize(
    ("user", "password"), [(USER, "wrongPassword"), (USER, ""), ("nobody@example.com", PASSWORD)]
)
async def test_wrong_password_or_unknown_user_is_401(
    app: Starlette, client_for: ClientFor, user: str, password: str
) -> None:
    _assert_401(await client_for(app, user, password).get(FILTER), FAILED)


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer abc.def.ghi", "The API token is not valid."),
        ("Digest abc", "Send HTTP Basic credentials or a Bearer token."),
        ("Basic", "Send HTTP Basic credentials or a Bearer token."),
        ("Basic !!!not-base64!!!", "The Basic credentials are not valid base64."),
        (
            "Basic " + base64.b64encode(b"joe@example.com").decode(),
            "The Basic credentials must be user:password.",
        ),
        (
            "Basic " + base64.b64encode(b":joePassword").decode(),
            "The Basic credentials must be user:password.",
        ),
    ],
)
async def test_malformed_authorization_is_401(
    client: httpx.AsyncClient, authorization: str, message: str
) -> None:
    _assert_401(await client.get(FILTER, headers={"Authorization": authorization}), message)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic am9lOnDDpHNz\u00e9".encode("latin-1"),  # base64 with a non-ASCII byte in it
        "Basic joe:pässword".encode(),  # the credentials sent raw, as UTF-8, not base64
    ],
)
async def test_non_ascii_authorization_is_401(
    client: httpx.AsyncClient, authorization: bytes
) -> None:
    response = await client.get(FILTER, headers={b"Authorization": authorization})

    _assert_401(response, "The Basic credentials are not valid base64.")


async def test_tenant_header_may_be_left_out(app: Starlette, client_for: ClientFor) -> None:
    client = client_for(app, tenant=None)

    assert (await client.get(FILTER)).status_code == 200
    created = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}})
    assert created.status_code == 202


async def test_tenant_header_naming_another_domain_is_401(
    app: Starlette, client_for: ClientFor
) -> None:
    await add_tenant(store_of(app), OTHER_DOMAIN, OTHER_USER, OTHER_PASSWORD)

    response = await client_for(app, tenant=OTHER_DOMAIN).get(FILTER)

    _assert_401(
        response,
        f"X-ID-TENANT-NAME [{OTHER_DOMAIN}] does not match the identity domain in the path "
        f"[{DOMAIN}].",
    )


async def test_credentials_of_another_domain_are_401(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await add_tenant(store_of(app), OTHER_DOMAIN, OTHER_USER, OTHER_PASSWORD)
    assert (await client.get(FILTER)).status_code == 200  # joe's credential is now cached
    other_filter = f"/paas/api/v1.1/activitylog/{OTHER_DOMAIN}/filter"

    joe_elsewhere = await client_for(app, tenant=OTHER_DOMAIN).get(other_filter)
    ann_here = await client_for(app, OTHER_USER, OTHER_PASSWORD).get(FILTER)

    _assert_401(joe_elsewhere, FAILED)
    _assert_401(ann_here, FAILED)


@pytest.mark.parametrize(
    "path",
    [
        "/paas/api/v1.1/activitylog/NoSuchDomain/filter",
        "/paas/api/v1.1/activitylog/NoSuchDomain/job/1",
        "/paas/api/v1.1/instancemgmt/NoSuchDomain/services/caching/instances",
    ],
)
async def test_unknown_domain_is_401(app: Starlette, client_for: ClientFor, path: str) -> None:
    _assert_401(await client_for(app, tenant="NoSuchDomain").get(path), FAILED)


READS = [
    ("GET", f"{JOB_PREFIX}/job/1", None),
    ("GET", f"{JOB_PREFIX}/message/1", None),
    ("GET", FILTER, None),
    ("GET", INSTANCES, None),
    ("GET", f"{INSTANCES}/MyCache", None),
]
WRITES = [
    ("POST", INSTANCES, {"serviceParameters": {"serviceName": "Another"}}),
    ("POST", f"{INSTANCES}/MyCache/hosts/stop", {"allServiceHosts": True}),
    ("POST", f"{INSTANCES}/MyCache/hosts/restart", {"allServiceHosts": True}),
    ("POST", f"{INSTANCES}/MyCache/scale", {"serviceParameters": {"size": "2"}}),
    ("PUT", f"{INSTANCES}/MyCache", {}),
    ("DELETE", f"{INSTANCES}/MyCache", None),
]
USER_ADMIN = [
    ("GET", USERS, None),
    ("PUT", f"{USERS}/someone", {"password": "longEnough1"}),
    ("DELETE", f"{USERS}/{VIEWER}", None),
]


def _forbidden(user: str, role: str, needed: str) -> dict[str, Any]:
    message = f"User [{user}] has role {role}; this request needs {needed}."
    return {"status": "403", "details": {"message": message}}


async def test_viewer_reads_but_may_not_write(
    staff: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await running_cache(client)
    viewer = client_for(staff, VIEWER, VIEWER_PASSWORD)

    for method, url, body in READS:
        assert (await viewer.request(method, url, json=body)).status_code == 200, url
    for method, url, body in [*WRITES, *USER_ADMIN]:
        response = await viewer.request(method, url, json=body)
        assert response.status_code == 403, url
        needed = "admin" if url.startswith(USERS) else "operator"
        assert response.json() == _forbidden(VIEWER, "viewer", needed)


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
async def test_operator_writes(
    staff: Starlette,
    client: httpx.AsyncClient,
    client_for: ClientFor,
    method: str,
    url: str,
    body: object,
) -> None:
    await running_cache(client)
    operator = client_for(staff, OPERATOR, OPERATOR_PASSWORD)

    response = await operator.request(method, url, json=body)

    assert response.status_code == 202, response.text
    job = await operator.get(response.headers["location"])
    assert job.json()["authUser"] == OPERATOR


async def test_operator_may_not_manage_users(staff: Starlette, client_for: ClientFor) -> None:
    operator = client_for(staff, OPERATOR, OPERATOR_PASSWORD)

    for method, url, body in USER_ADMIN:
        response = await operator.request(method, url, json=body)
        assert response.status_code == 403, url
        assert response.json() == _forbidden(OPERATOR, "operator", "admin")


async def test_password_change_takes_effect_at_once(
    staff: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    old = client_for(staff, VIEWER, VIEWER_PASSWORD)
    new = client_for(staff, VIEWER, "brandNewPassword")
    assert (await old.get(FILTER)).status_code == 200  # now cached

    changed = await client.put(f"{USERS}/{VIEWER}", json={"password": "brandNewPassword"})

    assert changed.status_code == 200
    _assert_401(await old.get(FILTER), FAILED)
    assert (await new.get(FILTER)).status_code == 200


async def test_role_change_and_deletion_take_effect_at_once(
    staff: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    viewer = client_for(staff, VIEWER, VIEWER_PASSWORD)
    create = {"serviceParameters": {"serviceName": "MyCache"}}
    assert (await viewer.post(INSTANCES, json=create)).status_code == 403  # now cached

    promoted = await client.put(f"{USERS}/{VIEWER}", json={"role": "operator"})
    assert promoted.json() == {"name": VIEWER, "role": "operator"}
    assert (await viewer.post(INSTANCES, json=create)).status_code == 202

    assert (await client.delete(f"{USERS}/{VIEWER}")).status_code == 204
    _assert_401(await viewer.get(FILTER), FAILED)


async def test_repeated_request_is_not_verified_again(
    staff: Starlette, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified = count_verifies(staff.state.context.authenticator, monkeypatch)
    viewer = client_for(staff, VIEWER, VIEWER_PASSWORD)
    wrong = client_for(staff, VIEWER, "wrongPassword")

    for _ in range(3):
        assert (await viewer.get(FILTER)).status_code == 200
    assert verified == [VIEWER_PASSWORD]

    # A failure is never remembered: each one costs a verify.
    for _ in range(2):
        assert (await wrong.get(FILTER)).status_code == 401
    assert verified == [VIEWER_PASSWORD, "wrongPassword", "wrongPassword"]


async def test_zero_ttl_verifies_every_request(
    start_app: StartApp, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_app(credential_cache_ttl=0.0)
    verified = count_verifies(app.state.context.authenticator, monkeypatch)
    client = client_for(app)

    for _ in range(3):
        assert (await client.get(FILTER)).status_code == 200

    assert verified == [PASSWORD] * 3


async def test_verify_overlapping_a_password_change_is_not_cached(
    staff: Starlette,
    client: httpx.AsyncClient,
    client_for: ClientFor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authenticator: Authenticator = staff.state.context.authenticator
    check = authenticator._check
    entered, release = threading.Event(), threading.Event()

    def check_slowly(stored_hash: str, password: str) -> bool:
        if password == VIEWER_PASSWORD:
            entered.set()
            release.wait(10)
        return check(stored_hash, password)

    monkeypatch.setattr(authenticator, "_check", check_slowly)
    assert (await client.get(FILTER)).status_code == 200  # the admin, verified and cached
    old = client_for(staff, VIEWER, VIEWER_PASSWORD)
    answers: list[httpx.Response] = []

    async def request_with_old_password() -> None:
        answers.append(await old.get(FILTER))

    async with anyio.create_task_group() as group:
        group.start_soon(request_with_old_password)
        # The old password's verify is under way: it read the old hash. Change the password now.
        await anyio.to_thread.run_sync(entered.wait, 10)
        changed = await client.put(f"{USERS}/{VIEWER}", json={"password": "brandNewPassword"})
        assert changed.status_code == 200
        release.set()

    assert answers[0].status_code == 200  # it began before the change
    _assert_401(await old.get(FILTER), FAILED)


async def test_concurrent_requests_share_one_verify(
    staff: Starlette, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An expired or cold entry under load costs one argon2 run, not one per request."""
    verified = count_verifies(staff.state.context.authenticator, monkeypatch)
    viewer = client_for(staff, VIEWER, VIEWER_PASSWORD)
    wrong = client_for(staff, VIEWER, "wrongPassword")

    answers = await asyncio.gather(*(viewer.get(FILTER) for _ in range(20)))
    failures = await asyncio.gather(*(wrong.get(FILTER) for _ in range(20)))

    assert {answer.status_code for answer in answers} == {200}
    assert {answer.status_code for answer in failures} == {401}
    assert verified == [VIEWER_PASSWORD, "wrongPassword"]


async def run_cli(*arguments: str, stdin: str) -> None:
    """The `activitylog` command, as a person runs it beside a live server."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "activitylog",
        *arguments,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await process.communicate(stdin.encode())
    assert process.returncode == 0, errors.decode()


@pytest.mark.parametrize("route", ["filter", "job status (its fast path)"])
async def test_a_password_changed_with_the_cli_stops_working_within_a_second(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path, route: str
) -> None:
    db = str(tmp_path / "passwd.db")
    app = await start_app(run_worker=False, db=db)
    old, new = client_for(app), client_for(app, password="newPassword")
    path = FILTER if route == "filter" else f"{JOB_PREFIX}/job/{await create_cache(old)}"
    assert (await old.get(path)).status_code == 200  # verified, and now cached for 60 s

    await run_cli(
        "user", "passwd", "--db", db, DOMAIN, USER, "--password-stdin", stdin="newPassword"
    )
    changed_at = time.monotonic()
    with anyio.fail_after(5):
        while (await old.get(path)).status_code == 200:
            await anyio.sleep(0.02)
    assert time.monotonic() - changed_at < 1.0
    assert (await new.get(path)).status_code == 200


async def test_the_job_status_fast_path_trusts_no_password_the_version_has_moved_past(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path
) -> None:
    db = str(tmp_path / "moved.db")
    # An interval longer than the new password's verify, so that the version stays fresh.
    app = await start_app(run_worker=False, db=db, token_check_seconds=1.0)
    old, new = client_for(app), client_for(app, password="newPassword")
    job = f"{JOB_PREFIX}/job/{await create_cache(old)}"
    assert (await old.get(job)).status_code == 200
    await run_cli(
        "user", "passwd", "--db", db, DOMAIN, USER, "--password-stdin", stdin="newPassword"
    )
    await anyio.sleep(1.05)  # past the check interval
    # Another credential's request reads the new version; the old password's cached entry
    # was confirmed under the one before, so even the fast path must check it again.
    assert (await new.get(FILTER)).status_code == 200

    assert (await old.get(job)).status_code == 401


async def test_a_change_to_another_user_costs_the_cached_ones_no_verify(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "others.db")
    app = await start_app(run_worker=False, db=db, token_check_seconds=0.05)
    verified = count_verifies(app.state.context.authenticator, monkeypatch)
    client = client_for(app)
    assert (await client.get(FILTER)).status_code == 200
    await add_tenant(store_of(app), user=VIEWER, password=VIEWER_PASSWORD, role="viewer")
    await run_cli(
        "user", "passwd", "--db", db, DOMAIN, VIEWER, "--password-stdin", stdin="another password"
    )
    await anyio.sleep(0.1)  # past the check interval: the next request reads the version

    assert (await client.get(FILTER)).status_code == 200
    assert verified == [PASSWORD]
