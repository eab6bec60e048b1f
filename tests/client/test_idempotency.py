"""Every write carries an Idempotency-Key, the same across its retries: a retry after a lost
answer gets the first answer back, not a 409 for the job its first attempt created."""

from __future__ import annotations

import uuid

import httpx
import pytest

from activitylog.client import AsyncClient, Client, Conflict
from tests.client.conftest import DOMAIN, PASSWORD, USER
from tests.e2e.conftest import RunningServer

UNAVAILABLE = b'{"status":"503","details":{"message":"The gateway timed out."}}'


class LosesFirstAnswer(httpx.HTTPTransport):
    """The real network transport, except that the first write's answer is replaced by a 503,
    as a proxy does when the server was slow: the server did the work, the client never knew."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "GET":
            return response
        self.writes.append(request)
        if len(self.writes) > 1:
            return response
        response.read()
        response.close()
        return httpx.Response(503, content=UNAVAILABLE, headers={"Retry-After": "0"})


def recording_client(server: RunningServer, transport: httpx.BaseTransport) -> Client:
    return Client(
        server.url, user=USER, password=PASSWORD, identity_domain=DOMAIN, transport=transport
    )


def test_a_create_retried_after_a_lost_answer_gets_its_job(server: RunningServer) -> None:
    transport = LosesFirstAnswer()
    with recording_client(server, transport) as client:
        submission = client.create("caching", "Retried")
        job = client.wait(submission.job_id, timeout=30)
    assert job.service_name == "Retried"
    first, retry = transport.writes
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"]
    assert uuid.UUID(first.headers["Idempotency-Key"]).version == 4


def test_each_call_has_its_own_key_and_the_caller_may_choose_it(server: RunningServer) -> None:
    transport = LosesFirstAnswer()
    with recording_client(server, transport) as client:
        first = client.create("caching", "Keyed", idempotency_key="create-keyed-1")
        assert client.create("caching", "Keyed", idempotency_key="create-keyed-1") == first
        client.wait(first.job_id, timeout=30)
        with pytest.raises(Conflict):
            client.create("caching", "Keyed")  # another call, another key: a second create
        client.scale("caching", "Keyed", 2, idempotency_key="scale-keyed-1")
    keys = [request.headers["Idempotency-Key"] for request in transport.writes]
    assert keys[:3] == ["create-keyed-1"] * 3  # the lost answer's retry, then the repeat
    assert keys[3] != "create-keyed-1"
    assert keys[-1] == "scale-keyed-1"


class NotesKeys(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            self.keys.append(request.headers.get("Idempotency-Key"))
        return await super().handle_async_request(request)


@pytest.mark.anyio
async def test_the_async_client_sends_keys_too(server: RunningServer) -> None:
    transport = NotesKeys()
    async with AsyncClient(
        server.url, user=USER, password=PASSWORD, identity_domain=DOMAIN, transport=transport
    ) as client:
        submission = await client.create("caching", "AsyncKeyed")
        await client.wait(submission.job_id, timeout=30)
        await client.stop("caching", "AsyncKeyed", idempotency_key="stop-1")
    assert transport.keys[0] is not None
    assert uuid.UUID(transport.keys[0]).version == 4
    assert transport.keys[1] == "stop-1"
