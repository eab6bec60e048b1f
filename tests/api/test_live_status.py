"""Live status on the job GET: ETag and 304, Retry-After, ?wait long-polls, ?sinceMessage
tails, percentComplete, and the server-sent event streams (in process; the real-server
streaming tests are in tests/e2e/test_live_status.py)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from activitylog.domain.jobs import WarnReporting
from activitylog.engine.handlers import Handler, JobContext, ServiceType, ServiceTypeRegistry
from activitylog.http import domain_streams, events
from activitylog.serving import create_app
from activitylog.settings import Settings
from activitylog.store.base import Store
from activitylog.store.records import JobView
from tests.api.conftest import OTHER_DOMAIN, OTHER_PASSWORD, OTHER_USER, store_of
from tests.conftest import DOMAIN, JOB_PREFIX, PASSWORD, USER, add_tenant, basic_auth

pytestmark = pytest.mark.anyio
GATED = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/gated/instances"


class Script:
    """Drives the `gated` handler: each command it is sent becomes one step of the job."""

    def __init__(self) -> None:
        self.commands: asyncio.Queue[str] = asyncio.Queue()

    async def handler(self, context: JobContext) -> None:
        while (command := await self.commands.get()) != "end":
            if command.startswith("progress:"):
                await context.progress(int(command.removeprefix("progress:")))
            else:
                await context.log(command)


@pytest.fixture
async def scripted(
    settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, Script, Starlette]]:
    script = Script()
    handlers: dict[str, Handler] = {"CREATE_SERVICE": script.handler}
    app = create_app(settings, registry=ServiceTypeRegistry([ServiceType("gated", handlers)]))
    async with app.router.lifespan_context(app):
        await add_tenant(store_of(app))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": basic_auth(USER, PASSWORD), "X-ID-TENANT-NAME": DOMAIN}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            yield client, script, app


async def start_job(client: httpx.AsyncClient) -> str:
    answer = await client.post(GATED, json={"serviceParameters": {"serviceName": "Gated"}})
    assert answer.status_code == 202
    url = f"{JOB_PREFIX}/job/{answer.json()['details']['jobId']}"
    with anyio.fail_after(10):
        while (await client.get(url)).json()["status"] != "RUNNING":
            await anyio.sleep(0.01)
    return url


async def messages_of(client: httpx.AsyncClient, url: str) -> list[str]:
    return [m["message"] for m in (await client.get(url)).json()["messages"]]


async def until(client: httpx.AsyncClient, url: str, condition: Any) -> dict[str, Any]:
    with anyio.fail_after(10):
        while True:
            job: dict[str, Any] = (await client.get(url)).json()
            if condition(job):
                return job
            await anyio.sleep(0.01)


async def test_etag_and_304_follow_the_jobs_version(scripted: Any) -> None:
    client, script, _ = scripted
    url = await start_job(client)
    first = await client.get(url)
    etag = first.headers["etag"]
    assert first.headers["retry-after"] == "3"
    unchanged = await client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag

    script.commands.put_nowait("a step")
    changed = await until(client, url, lambda job: len(job["messages"]) == 3)
    assert changed["messages"][-1]["message"] == "a step"
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["etag"] != etag

    script.commands.put_nowait("end")
    ended = await until(client, url, lambda job: job["status"] == "SUCCEED")
    assert ended["messages"][-1]["message"] == "Activity Ended"
    final = await client.get(url)
    assert "retry-after" not in final.headers
    cached = await client.get(url, headers={"If-None-Match": f"W/{final.headers['etag']}"})
    assert cached.status_code == 304


async def test_wait_answers_as_soon_as_the_job_changes(scripted: Any) -> None:
    client, script, _ = scripted
    url = await start_job(client)
    etag = (await client.get(url)).headers["etag"]

    async def change_soon() -> None:
        await anyio.sleep(0.2)
        script.commands.put_nowait("changed while waiting")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(change_soon)
        # The deadline is far below the 30 s asked for: the answer must come with the change.
        with anyio.fail_after(10):
            answer = await client.get(url, params={"wait": 30}, headers={"If-None-Match": etag})
    assert answer.status_code == 200
    assert answer.json()["messages"][-1]["message"] == "changed while waiting"


async def test_wait_without_a_change_ends_after_the_wait(scripted: Any) -> None:
    client, _, _ = scripted
    url = await start_job(client)
    current = await client.get(url)
    held = await client.get(
        url, params={"wait": 1}, headers={"If-None-Match": current.headers["etag"]}
    )
    assert held.status_code == 304
    plain = await client.get(url, params={"wait": 1})
    assert plain.status_code == 200
    assert plain.content == current.content


async def test_wait_on_an_ended_job_answers_at_once(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances",
        json={"serviceParameters": {"serviceName": "Quick"}},
    )
    url = httpx.URL(created.headers["location"]).path
    await until(client, url, lambda job: job["status"] == "SUCCEED")
    with anyio.fail_after(5):
        answer = await client.get(url, params={"wait": 60})
    assert answer.json()["status"] == "SUCCEED"


@pytest.mark.parametrize(
    "params",
    [
        {"wait": "61"},
        {"wait": "-1"},
        {"wait": "soon"},
        {"sinceMessage": "-2"},
        {"sinceMessage": "x"},
    ],
)
async def test_bad_extension_parameters_are_400(scripted: Any, params: dict[str, str]) -> None:
    client, _, _ = scripted
    url = await start_job(client)
    answer = await client.get(url, params=params)
    assert answer.status_code == 400
    assert answer.json()["details"]["issues"]


async def test_since_message_returns_only_later_messages(scripted: Any) -> None:
    client, script, _ = scripted
    url = await start_job(client)
    for step in ("one", "two", "three"):
        script.commands.put_nowait(step)
    await until(client, url, lambda job: len(job["messages"]) == 5)
    tail = (await client.get(url, params={"sinceMessage": 3})).json()
    assert [m["message"] for m in tail["messages"]] == ["two", "three"]
    everything = (await client.get(url, params={"sinceMessage": 0})).json()
    assert len(everything["messages"]) == 5
    beyond = (await client.get(url, params={"sinceMessage": 99})).json()
    assert beyond["messages"] == []


async def test_percent_complete_appears_after_messages_once_reported(scripted: Any) -> None:
    client, script, _ = scripted
    url = await start_job(client)
    assert "percentComplete" not in (await client.get(url)).json()
    script.commands.put_nowait("progress:40")
    job = await until(client, url, lambda job: "percentComplete" in job)
    assert job["percentComplete"] == 40
    assert list(job)[-2:] == ["messages", "percentComplete"]
    assert (await client.get(url)).text.endswith(',"percentComplete":40}')


def parse_events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if fields:
            events.append(fields)
    return events


async def test_job_stream_sends_messages_status_progress_and_end(scripted: Any) -> None:
    client, script, _ = scripted
    url = await start_job(client)
    # The in-process transport hands the body over when the stream ends, with the job.
    stream = asyncio.create_task(client.get(f"{url}/events"))
    for command in ("first", "progress:50", "second", "end"):
        await anyio.sleep(0.05)
        script.commands.put_nowait(command)
    with anyio.fail_after(10):
        answer = await stream
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = parse_events(answer.text)
    messages = [(e["id"], e["data"]) for e in events if e["event"] == "message"]
    assert [int(i) for i, _ in messages] == list(range(1, len(messages) + 1))
    texts = [d.split('"message":"')[1].split('"')[0] for _, d in messages]
    assert texts == ["Activity Submitted", "Activity Started", "first", "second", "Activity Ended"]
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "end"
    assert '"status":"SUCCEED"' in events[-1]["data"]
    assert any(e["event"] == "progress" and e["data"] == '{"percentComplete":50}' for e in events)
    assert '"status":"RUNNING"' in next(e["data"] for e in events if e["event"] == "status")


async def test_an_idle_job_stream_rereads_its_job_at_each_keep_alive(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A change whose announcement was lost (its process died just after committing) still
    # reaches the stream, one keep-alive later.
    client, script, app = scripted
    monkeypatch.setattr(events, "KEEP_ALIVE_SECONDS", 0.1)
    url = await start_job(client)
    stream = asyncio.create_task(client.get(f"{url}/events"))
    await anyio.sleep(0.05)
    monkeypatch.setattr(store_of(app).changes, "publish", lambda *change: None)
    for command in ("unannounced", "end"):
        script.commands.put_nowait(command)
    with anyio.fail_after(10):
        answer = await stream
    assert ": keep-alive" in answer.text
    found = parse_events(answer.text)
    assert '"message":"unannounced"' in "".join(e["data"] for e in found)
    assert found[-1]["event"] == "end"


async def test_job_stream_resumes_after_last_event_id(scripted: Any) -> None:
    client, script, _ = scripted
    url = await start_job(client)
    for command in ("a", "b", "end"):
        script.commands.put_nowait(command)
    await until(client, url, lambda job: job["status"] == "SUCCEED")
    answer = await client.get(f"{url}/events", headers={"Last-Event-ID": "3"})
    events = parse_events(answer.text)
    assert [e["id"] for e in events if e["event"] == "message"] == ["4", "5"]
    assert events[-1]["event"] == "end"


async def test_job_stream_of_an_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{JOB_PREFIX}/job/987654/events")
    assert answer.status_code == 404
    assert answer.json()["status"] == "404"


async def test_domain_stream_sends_matching_changes_until_shutdown(scripted: Any) -> None:
    client, script, app = scripted
    stream = asyncio.create_task(
        client.get(f"{JOB_PREFIX}/events", params={"serviceType": "gated", "status": "SUCCEED"})
    )
    await anyio.sleep(0.05)
    url = await start_job(client)
    script.commands.put_nowait("end")
    await until(client, url, lambda job: job["status"] == "SUCCEED")
    await anyio.sleep(0.05)
    store_of(app).changes.close()  # what a shutdown does: every stream ends
    with anyio.fail_after(10):
        answer = await stream
    events = parse_events(answer.text)
    assert [e["event"] for e in events] == ["job"]
    assert '"status":"SUCCEED"' in events[0]["data"]
    assert '"lastMessage":{' in events[0]["data"]


async def test_a_thousand_waiters_cost_no_queries(scripted: Any) -> None:
    """Idle long-polls wait on the change feed, not on the database."""
    client, script, app = scripted
    url = await start_job(client)
    etag = (await client.get(url)).headers["etag"]
    store = store_of(app)
    reads = 0
    real_get_job = store.get_job

    async def counting_get_job(domain_id: int, job_id: int) -> Any:
        nonlocal reads
        reads += 1
        return await real_get_job(domain_id, job_id)

    store.get_job = counting_get_job  # type: ignore[method-assign]
    with contextlib.ExitStack():
        waiters = [
            asyncio.create_task(
                client.get(url, params={"wait": 30}, headers={"If-None-Match": etag})
            )
            for _ in range(1000)
        ]
        with anyio.fail_after(30):
            while reads < 1000:  # each waiter's first read
                await anyio.sleep(0.05)
        await anyio.sleep(0.5)
        assert reads == 1000  # and then nothing while idle
        script.commands.put_nowait("wake up")
        with anyio.fail_after(30):
            answers = await asyncio.gather(*waiters)
    assert {answer.status_code for answer in answers} == {200}
    assert reads == 2000  # one more read each, after the one change


def count_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> collections.Counter[int]:
    """From now on, the store's job reads, counted by identity domain id."""
    reads: collections.Counter[int] = collections.Counter()
    real_get_job = store.get_job

    async def counting_get_job(domain_id: int, job_id: int) -> Any:
        reads[domain_id] += 1
        return await real_get_job(domain_id, job_id)

    monkeypatch.setattr(store, "get_job", counting_get_job)
    return reads


def open_streams(client: httpx.AsyncClient, count: int, **options: Any) -> list[asyncio.Task[Any]]:
    return [asyncio.create_task(client.get(**options)) for _ in range(count)]


async def test_a_domain_stream_reads_nothing_for_another_domains_changes(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, script, app = scripted
    store = store_of(app)
    await add_tenant(store, OTHER_DOMAIN, OTHER_USER, OTHER_PASSWORD, "viewer")
    other = await store.get_domain(OTHER_DOMAIN)
    assert other is not None
    reads = count_reads(store, monkeypatch)
    others = {
        "Authorization": basic_auth(OTHER_USER, OTHER_PASSWORD),
        "X-ID-TENANT-NAME": OTHER_DOMAIN,
    }
    streams = open_streams(
        client, 20, url=f"/paas/api/v1.1/activitylog/{OTHER_DOMAIN}/events", headers=others
    )
    await anyio.sleep(0.1)

    url = await start_job(client)
    for command in ("a step", "progress:50", "end"):
        script.commands.put_nowait(command)
    await until(client, url, lambda job: job["status"] == "SUCCEED")
    await anyio.sleep(0.1)
    store.changes.close()
    with anyio.fail_after(10):
        answers = await asyncio.gather(*streams)

    assert reads[other.domain_id] == 0
    assert {answer.status_code for answer in answers} == {200}
    assert all(parse_events(answer.text) == [] for answer in answers)


async def test_a_change_is_read_and_encoded_once_for_all_its_domains_streams(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, script, app = scripted
    store = store_of(app)
    await start_job(client)
    streams = open_streams(client, 20, url=f"{JOB_PREFIX}/events")
    unmatched = open_streams(
        client, 5, url=f"{JOB_PREFIX}/events", params={"serviceType": "caching"}
    )
    await anyio.sleep(0.1)
    reads = count_reads(store, monkeypatch)
    summaries = 0
    real_summary = domain_streams.job_summary

    def counting_summary(view: JobView, warn: WarnReporting) -> dict[str, Any]:
        nonlocal summaries
        summaries += 1
        return real_summary(view, warn)

    monkeypatch.setattr(domain_streams, "job_summary", counting_summary)

    script.commands.put_nowait("hello")  # one change
    await anyio.sleep(0.3)
    assert sum(reads.values()) == 1
    assert summaries == 1
    store.changes.close()
    with anyio.fail_after(10):
        answers = await asyncio.gather(*streams)
        others = await asyncio.gather(*unmatched)
    assert all(parse_events(other.text) == [] for other in others)
    for answer in answers:
        assert [e["event"] for e in parse_events(answer.text)] == ["job"]
        assert '"message":"hello"' in answer.text
    assert len({answer.text for answer in answers}) == 1
