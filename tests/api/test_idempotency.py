"""The Idempotency-Key header on instancemgmt writes: a repeat gets the first 202, even when the
two race; the same key with another request gets 422."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from tests.api.conftest import running_cache
from tests.conftest import INSTANCES, JOB_PREFIX

pytestmark = pytest.mark.anyio

CREATE_BODY = {"serviceParameters": {"serviceName": "MyCache", "size": "2"}}


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def job_count(client: httpx.AsyncClient) -> int:
    total: int = (await client.get(f"{JOB_PREFIX}/filter", params={"limit": 0})).json()[
        "totalCount"
    ]
    return total


async def test_a_repeat_gets_the_same_202_body_location_and_job(
    idle_client: httpx.AsyncClient,
) -> None:
    first = await idle_client.post(INSTANCES, json=CREATE_BODY, headers=keyed("create-1"))
    again = await idle_client.post(INSTANCES, json=CREATE_BODY, headers=keyed("create-1"))

    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert await job_count(idle_client) == 1


async def test_the_same_body_spelt_differently_is_the_same_request(
    idle_client: httpx.AsyncClient,
) -> None:
    first = await idle_client.post(INSTANCES, json=CREATE_BODY, headers=keyed("k"))
    reordered = json.dumps({"serviceParameters": {"size": "2", "serviceName": "MyCache"}}, indent=2)

    again = await idle_client.post(
        INSTANCES,
        content=reordered,
        headers={**keyed("k"), "Content-Type": "application/json"},
    )

    assert again.status_code == 202
    assert again.content == first.content


async def test_requests_racing_with_one_key_get_one_job(idle_client: httpx.AsyncClient) -> None:
    answers: list[httpx.Response] = []

    async def create() -> None:
        answers.append(await idle_client.post(INSTANCES, json=CREATE_BODY, headers=keyed("race")))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(create)

    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.content for answer in answers}) == 1
    assert len({answer.headers["location"] for answer in answers}) == 1
    assert await job_count(idle_client) == 1


async def test_the_same_key_with_another_body_is_422(idle_client: httpx.AsyncClient) -> None:
    await idle_client.post(INSTANCES, json=CREATE_BODY, headers=keyed("k"))
    other = {"serviceParameters": {"serviceName": "MyCache", "size": "4"}}

    answer = await idle_client.post(INSTANCES, json=other, headers=keyed("k"))

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "status": "422",
        "details": {
            "message": "This Idempotency-Key was already used, within 24 hours, for a "
            "different request."
        },
    }
    assert await job_count(idle_client) == 1


async def test_the_same_key_on_another_operation_is_422(client: httpx.AsyncClient) -> None:
    await running_cache(client)
    stop = await client.post(f"{INSTANCES}/MyCache/hosts/stop", json={}, headers=keyed("op"))
    assert stop.status_code == 202

    restart = await client.post(f"{INSTANCES}/MyCache/hosts/restart", json={}, headers=keyed("op"))

    assert restart.status_code == 422


async def test_a_repeat_is_answered_even_while_the_operation_is_in_flight(
    idle_client: httpx.AsyncClient,
) -> None:
    """Without the key the repeat would be a second operation: 409 (see the next test)."""
    await idle_client.post(INSTANCES, json=CREATE_BODY, headers=keyed("k"))

    again = await idle_client.post(INSTANCES, json=CREATE_BODY, headers=keyed("k"))
    unkeyed = await idle_client.post(INSTANCES, json=CREATE_BODY)

    assert again.status_code == 202
    assert unkeyed.status_code == 409


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 256, "naïve".encode()])
async def test_a_malformed_key_is_400(idle_client: httpx.AsyncClient, key: bytes) -> None:
    answer = await idle_client.post(INSTANCES, json=CREATE_BODY, headers={b"Idempotency-Key": key})

    assert answer.status_code == 400
    assert answer.json()["details"]["issues"] == [
        "Idempotency-Key: expected 1 to 255 visible ASCII characters"
    ]
    assert await job_count(idle_client) == 0
