"""The caps on requests held open: event streams and ?wait long-polls, per user and per client
address. One more is a 429 with Retry-After and the JSON error body; a slot frees as soon as its
request ends."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from activitylog.engine.handlers import Handler, ServiceType, ServiceTypeRegistry
from activitylog.serving import create_app
from activitylog.settings import Settings
from tests.api.conftest import OTHER_PASSWORD, store_of
from tests.api.test_live_status import Script, start_job
from tests.conftest import DOMAIN, JOB_PREFIX, PASSWORD, USER, add_tenant, basic_auth

pytestmark = pytest.mark.anyio
DOMAIN_EVENTS = f"{JOB_PREFIX}/events"
SECOND_USER = "sam@example.com"

Capped = Callable[..., Any]


@pytest.fixture
async def capped(settings: Settings) -> AsyncIterator[Capped]:
    """Start the `gated` app with these caps; returns (client of USER, of SECOND_USER, script)."""
    apps: list[tuple[Starlette, Any]] = []

    async def start(**caps: Any) -> tuple[httpx.AsyncClient, httpx.AsyncClient, Script]:
        script = Script()
        handlers: dict[str, Handler] = {"CREATE_SERVICE": script.handler}
        registry = ServiceTypeRegistry([ServiceType("gated", handlers)])
        app = create_app(dataclasses.replace(settings, **caps), registry=registry)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        apps.append((app, lifespan))
        await add_tenant(store_of(app))
        await add_tenant(store_of(app), DOMAIN, SECOND_USER, OTHER_PASSWORD, "viewer")
        return client(app, USER, PASSWORD), client(app, SECOND_USER, OTHER_PASSWORD), script

    yield start
    for app, lifespan in apps:
        store_of(app).changes.close()  # ends every stream still open
        await lifespan.__aexit__(None, None, None)


def client(app: Starlette, user: str, password: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": basic_auth(user, password), "X-ID-TENANT-NAME": DOMAIN}
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def held_open(client: httpx.AsyncClient, url: str, **options: Any) -> asyncio.Task[Any]:
    """A request left running (a stream, a long-poll), once the server holds it."""
    task = asyncio.create_task(client.get(url, **options))
    await anyio.sleep(0.1)
    assert not task.done()
    return task


def assert_too_many(answer: httpx.Response, held_by: str) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["retry-after"] == "5"
    body = answer.json()
    assert body["status"] == "429"
    assert held_by in body["details"]["message"]


async def test_a_user_past_the_stream_cap_gets_429_until_a_stream_ends(capped: Capped) -> None:
    joe, sam, script = await capped(max_streams_per_user=2, max_streams_per_address=0)
    job = await start_job(joe)
    job_stream = await held_open(joe, f"{job}/events")
    await held_open(joe, DOMAIN_EVENTS)

    assert_too_many(await joe.get(DOMAIN_EVENTS), f"User [{USER}]")
    assert_too_many(await joe.get(f"{job}/events"), f"User [{USER}]")
    assert (await joe.get(job)).status_code == 200  # other requests go on
    await held_open(sam, DOMAIN_EVENTS)  # another user has slots of their own

    script.commands.put_nowait("end")  # the job ends, and so does its stream
    with anyio.fail_after(10):
        assert (await job_stream).status_code == 200
    await held_open(joe, DOMAIN_EVENTS)
    assert_too_many(await joe.get(DOMAIN_EVENTS), f"User [{USER}]")


async def test_an_address_past_the_stream_cap_gets_429_whoever_asks(capped: Capped) -> None:
    joe, sam, _ = await capped(max_streams_per_user=0, max_streams_per_address=2)
    await held_open(joe, DOMAIN_EVENTS)
    await held_open(sam, DOMAIN_EVENTS)

    assert_too_many(await sam.get(DOMAIN_EVENTS), "client address")
    assert_too_many(await joe.get(DOMAIN_EVENTS), "client address")


async def test_a_stream_whose_client_goes_away_gives_its_slot_back(capped: Capped) -> None:
    joe, _, _ = await capped(max_streams_per_user=1)
    stream = await held_open(joe, DOMAIN_EVENTS)
    assert_too_many(await joe.get(DOMAIN_EVENTS), f"User [{USER}]")

    stream.cancel()
    await asyncio.gather(stream, return_exceptions=True)
    await held_open(joe, DOMAIN_EVENTS)


async def test_long_polls_have_a_cap_of_their_own(capped: Capped) -> None:
    joe, _, script = await capped(
        max_long_polls_per_user=1, max_long_polls_per_address=0, max_streams_per_user=1
    )
    job = await start_job(joe)
    etag = (await joe.get(job)).headers["etag"]
    waiting = await held_open(joe, job, params={"wait": 30}, headers={"If-None-Match": etag})

    assert_too_many(await joe.get(job, params={"wait": 30}), f"User [{USER}]")
    assert (await joe.get(job, params={"sinceMessage": 1})).status_code == 200  # no wait
    assert (await joe.get(job)).status_code == 200
    await held_open(joe, DOMAIN_EVENTS)  # streams are counted apart

    script.commands.put_nowait("a step")  # the long-poll answers, and its slot frees
    with anyio.fail_after(10):
        assert (await waiting).status_code == 200
    etag = (await joe.get(job)).headers["etag"]
    await held_open(joe, job, params={"wait": 30}, headers={"If-None-Match": etag})


async def test_the_default_caps_leave_room_for_real_use() -> None:
    settings = Settings()
    assert settings.max_streams_per_user >= 50
    assert settings.max_streams_per_address >= 2 * settings.max_streams_per_user
    assert settings.max_long_polls_per_user >= 1000  # e.g. one per running job of a pipeline
