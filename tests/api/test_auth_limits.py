"""Failed-authentication limits: 429 per address and per user name, growing bans, and
known-good credentials that neither wait behind unknown ones nor are locked out by a flood."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Protocol

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from activitylog.http.auth import Authenticator
from activitylog.http.bearer import SECRET_PREFIX
from tests.api.conftest import StartApp, count_verifies, create_cache, store_of
from tests.conftest import DOMAIN, JOB_PREFIX, PASSWORD, USER, add_tenant, basic_auth

pytestmark = pytest.mark.anyio

FILTER = f"{JOB_PREFIX}/filter"
TOKENS = f"{JOB_PREFIX}/tokens"
UNKNOWN_TOKEN = {"Authorization": f"Bearer {SECRET_PREFIX}{'x' * 43}"}
VIEWER, VIEWER_PASSWORD = "viewer@example.com", "viewerPassword"
ATTACKER = "10.0.0.66"


class ClientFrom(Protocol):
    def __call__(
        self, app: Starlette, address: str, user: str = ..., password: str = ...
    ) -> httpx.AsyncClient: ...


class FakeClock:
    """The authenticator's and the limits' clock, moved by the test instead of by waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def client_from() -> AsyncIterator[ClientFrom]:
    """Open a client on an app, from a client address of its own, as a user."""
    async with contextlib.AsyncExitStack() as stack:

        def open_client(
            app: Starlette, address: str, user: str = USER, password: str = PASSWORD
        ) -> httpx.AsyncClient:
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(
                    app=app, raise_app_exceptions=False, client=(address, 40000)
                ),
                base_url="http://testserver",
                headers={"Authorization": basic_auth(user, password), "X-ID-TENANT-NAME": DOMAIN},
            )
            stack.push_async_callback(client.aclose)
            return client

        yield open_client


def authenticator_of(app: Starlette) -> Authenticator:
    authenticator: Authenticator = app.state.context.authenticator
    return authenticator


def stop_the_clock(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    authenticator = authenticator_of(app)
    monkeypatch.setattr(authenticator, "_clock", clock)
    monkeypatch.setattr(authenticator.limits, "_clock", clock)
    return clock


def _assert_429(response: httpx.Response, message: str, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(retry_after)
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "429", "details": {"message": message}}


def _banned(where: str, seconds: int) -> str:
    return f"Too many failed authentications {where}; retry in {seconds} s."


async def _fail(client: httpx.AsyncClient, times: int = 1) -> None:
    for _ in range(times):
        assert (await client.get(FILTER)).status_code == 401


async def test_failures_from_one_address_are_refused_without_argon2(
    start_app: StartApp, client_from: ClientFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_app(
        auth_max_failures_per_address=3, auth_max_failures_per_user=0, auth_refusal_delay=0.0
    )
    verified = count_verifies(authenticator_of(app), monkeypatch)
    for number in range(3):  # three user names: only the address's limit can be reached
        await _fail(client_from(app, ATTACKER, f"guess{number}@example.com", "wrong"))

    refused = await client_from(app, ATTACKER, "guess9@example.com", "wrong").get(FILTER)
    right_password_there = await client_from(app, ATTACKER).get(FILTER)
    right_password_elsewhere = await client_from(app, "10.0.0.1").get(FILTER)

    _assert_429(refused, _banned("from this address", 60), 60)
    _assert_429(right_password_there, _banned("from this address", 60), 60)
    assert right_password_elsewhere.status_code == 200
    assert verified == ["wrong", "wrong", "wrong", PASSWORD]


async def test_failed_bearer_tokens_count_against_the_address_only(
    start_app: StartApp, client_from: ClientFrom
) -> None:
    """An unknown token names no user, and costs a read of the store: it counts against its
    address, which is then refused Basic credentials too; the user name is not counted."""
    app = await start_app(
        auth_max_failures_per_address=3, auth_max_failures_per_user=3, auth_refusal_delay=0.0
    )
    attacker = client_from(app, ATTACKER)
    for _ in range(3):
        assert (await attacker.get(FILTER, headers=UNKNOWN_TOKEN)).status_code == 401

    refused = await attacker.get(FILTER, headers=UNKNOWN_TOKEN)
    right_password_there = await attacker.get(FILTER)
    right_password_elsewhere = await client_from(app, "10.0.0.1").get(FILTER)

    _assert_429(refused, _banned("from this address", 60), 60)
    _assert_429(right_password_there, _banned("from this address", 60), 60)
    assert right_password_elsewhere.status_code == 200


async def test_a_token_already_trusted_gets_in_while_its_address_is_banned(
    start_app: StartApp, client_from: ClientFrom
) -> None:
    app = await start_app(auth_max_failures_per_address=2, auth_refusal_delay=0.0)
    created = await client_from(app, "10.0.0.1").post(TOKENS, json={"name": "ci"})
    assert created.status_code == 201, created.text
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    attacker = client_from(app, ATTACKER)
    assert (await attacker.get(FILTER, headers=token)).status_code == 200  # trusted from now on
    for _ in range(2):
        assert (await attacker.get(FILTER, headers=UNKNOWN_TOKEN)).status_code == 401

    assert (await attacker.get(FILTER, headers=token)).status_code == 200
    _assert_429(
        await attacker.get(FILTER, headers=UNKNOWN_TOKEN), _banned("from this address", 60), 60
    )


async def test_failures_for_one_user_name_are_refused_from_any_address(
    start_app: StartApp, client_from: ClientFrom
) -> None:
    app = await start_app(auth_max_failures_per_user=3, auth_ban_seconds=90, auth_refusal_delay=0.0)
    await add_tenant(store_of(app), user=VIEWER, password=VIEWER_PASSWORD, role="viewer")
    for number in range(3):
        await _fail(client_from(app, f"10.0.1.{number}", VIEWER, f"wrong{number}"))

    refused = await client_from(app, "10.0.1.9", VIEWER, "wrong9").get(FILTER)
    another_user_elsewhere = await client_from(app, "10.0.2.1").get(FILTER)

    _assert_429(refused, _banned("for this user name", 90), 90)
    assert another_user_elsewhere.status_code == 200


async def test_a_flood_does_not_lock_out_a_credential_known_good(
    start_app: StartApp, client_from: ClientFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known good: verified by this process earlier. Its cache entry expires while its user
    name and its address are banned; it is verified again, not refused."""
    app = await start_app(
        credential_cache_ttl=30.0,
        auth_max_failures_per_user=3,
        auth_max_failures_per_address=3,
        auth_refusal_delay=0.0,
    )
    clock = stop_the_clock(app, monkeypatch)
    verified = count_verifies(authenticator_of(app), monkeypatch)
    signed_in = client_from(app, ATTACKER)
    assert (await signed_in.get(FILTER)).status_code == 200
    await _fail(client_from(app, ATTACKER, USER, "wrong"), 3)

    clock.advance(31)  # the entry has expired; the 60 s bans have not

    assert (await signed_in.get(FILTER)).status_code == 200
    refused = await client_from(app, "10.0.3.1", USER, "wrong").get(FILTER)
    _assert_429(refused, _banned("for this user name", 29), 29)
    assert verified == [PASSWORD, "wrong", "wrong", "wrong", PASSWORD]


async def test_ban_doubles_on_each_repeat_up_to_the_maximum(
    start_app: StartApp, client_from: ClientFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_app(
        auth_max_failures_per_address=2,
        auth_max_failures_per_user=0,
        auth_ban_seconds=60,
        auth_max_ban_seconds=200,
        auth_refusal_delay=0.0,
    )
    clock = stop_the_clock(app, monkeypatch)
    attacker = client_from(app, ATTACKER, USER, "wrong")
    seen = []
    for _ in range(4):
        await _fail(attacker, 2)
        refused = await attacker.get(FILTER)
        assert refused.status_code == 429
        seen.append(int(refused.headers["retry-after"]))
        clock.advance(seen[-1])  # the ban is over: the next failures start the next one

    clock.advance(200)  # a quiet period as long as the longest ban: forgiven
    await _fail(attacker, 2)

    assert seen == [60, 120, 200, 200]
    assert (await attacker.get(FILTER)).headers["retry-after"] == "60"


async def test_a_refused_request_is_held_before_its_429(
    start_app: StartApp, client_from: ClientFrom
) -> None:
    """A flood that does not wait for Retry-After sends one request per connection and delay,
    not as many as the event loop can refuse."""
    app = await start_app(auth_max_failures_per_address=1, auth_refusal_delay=0.2)
    attacker = client_from(app, ATTACKER, USER, "wrong")
    await _fail(attacker)

    started = anyio.current_time()
    refused = await attacker.get(FILTER)

    assert refused.status_code == 429
    assert anyio.current_time() - started >= 0.1  # half the delay at least, spread at random


@pytest.mark.parametrize(("limit", "verifies"), [(1, 1), (5, 2)])
async def test_a_burst_costs_few_argon2_checks(
    start_app: StartApp,
    client_from: ClientFrom,
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
    verifies: int,
) -> None:
    """Attempts still being verified count against the limit, and no address has more than
    two under way: 50 wrong passwords at once are not 50 checks."""
    app = await start_app(
        auth_max_failures_per_address=limit, auth_max_failures_per_user=0, auth_refusal_delay=0.0
    )
    verified = count_verifies(authenticator_of(app), monkeypatch)
    clients = [client_from(app, ATTACKER, f"u{n}@example.com", "wrong") for n in range(50)]

    answers = await asyncio.gather(*(client.get(FILTER) for client in clients))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * verifies + [429] * (50 - verifies)
    assert len(verified) == verifies


async def test_known_good_credential_does_not_wait_behind_unknown_ones(
    start_app: StartApp, client_from: ClientFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the unknown credentials' checks all stuck, a credential verified before still
    answers. A ttl of 0 makes every request of it verify again, so the test can fail: with
    one queue for every check, it would wait for the stuck ones."""
    app = await start_app(credential_cache_ttl=0.0)
    signed_in = client_from(app, "10.0.4.1")
    assert (await signed_in.get(FILTER)).status_code == 200  # known good from now on
    authenticator = authenticator_of(app)
    check = authenticator._check
    entered, release = threading.Semaphore(0), threading.Event()

    def stuck_when_wrong(stored_hash: str, password: str) -> bool:
        if password != PASSWORD:
            entered.release()
            release.wait(30)
        return check(stored_hash, password)

    monkeypatch.setattr(authenticator, "_check", stuck_when_wrong)
    flood = [client_from(app, f"10.0.5.{n}", f"u{n}@example.com", "wrong") for n in range(6)]
    answers: list[httpx.Response] = []
    async with anyio.create_task_group() as group:
        for client in flood:
            group.start_soon(_get_into, answers, client)
        try:
            for _ in range(2):  # every slot for unknown credentials is taken, the rest queue
                await anyio.to_thread.run_sync(entered.acquire, True, 10)
            with anyio.fail_after(5):
                answer = await signed_in.get(FILTER)
        finally:
            release.set()

    assert answer.status_code == 200
    assert [response.status_code for response in answers] == [401] * 6


async def _get_into(answers: list[httpx.Response], client: httpx.AsyncClient) -> None:
    answers.append(await client.get(FILTER))


@pytest.mark.parametrize("route", ["filter", "job status (its fast path)"])
async def test_entry_is_verified_again_before_it_expires(
    start_app: StartApp, client_from: ClientFrom, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """A client that keeps polling never meets an expired entry, so never waits for argon2."""
    # The credentials version stays fresh, so that the fast path answers every job poll.
    app = await start_app(credential_cache_ttl=60.0, token_check_seconds=600.0)
    clock = stop_the_clock(app, monkeypatch)
    authenticator = authenticator_of(app)
    verified = count_verifies(authenticator, monkeypatch)
    client = client_from(app, "10.0.6.1")
    path = FILTER if route == "filter" else f"{JOB_PREFIX}/job/{await create_cache(client)}"
    assert (await client.get(path)).status_code == 200

    clock.advance(50)  # past three quarters of the ttl: answered, and verified in the background
    assert (await client.get(path)).status_code == 200
    with anyio.fail_after(10):
        while authenticator._pending:
            await anyio.sleep(0.01)
    clock.advance(15)  # past the first verify's expiry, before the second's refresh is due

    assert authenticator.cached(DOMAIN, basic_auth(USER, PASSWORD), DOMAIN) is not None
    assert (await client.get(path)).status_code == 200
    assert verified == [PASSWORD, PASSWORD]
