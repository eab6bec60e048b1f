"""GET .../activitylog/{domain}/audit: who did what, from where and when, for admins only;
failed sign-ins counted per (user name, address, hour)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import ClientFor, running_cache, store_of, wait_for_status
from tests.conftest import INSTANCES, JOB_PREFIX, USER, add_tenant

pytestmark = pytest.mark.anyio

AUDIT = f"{JOB_PREFIX}/audit"
USERS = f"{JOB_PREFIX}/users"


async def events(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["totalCount"] >= len(body["events"])
    found: list[dict[str, Any]] = body["events"]
    return found


async def test_failed_sign_ins_are_counted_not_listed_one_by_one(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    for _ in range(3):
        assert (await client_for(app, USER, "wrongPassword").get(INSTANCES)).status_code == 401
    assert (await client_for(app, "nobody@example.com", "x").get(INSTANCES)).status_code == 401
    assert (await client_for(app, user=None).get(INSTANCES)).status_code == 401  # not a sign-in
    malformed = client_for(app, user=None)
    for header in ("Basic !!!", "Basic " + "A" * 30, "Digest x"):  # nobody named: logged only
        assert (
            await malformed.get(INSTANCES, headers={"Authorization": header})
        ).status_code == 401

    failed = await events(client, kind="sign_in_failed")
    counts = {event["actor"]: event["count"] for event in failed}
    assert counts == {USER: 3, "nobody@example.com": 1}
    assert {event["address"] for event in failed} == {"127.0.0.1"}
    assert all(event["occurredAt"] <= event["lastOccurredAt"] for event in failed)


async def test_user_changes_are_recorded_with_who_and_where(client: httpx.AsyncClient) -> None:
    await client.put(f"{USERS}/ops@example.com", json={"password": "opsPassword"})
    await client.put(f"{USERS}/ops@example.com", json={"role": "operator"})
    await client.delete(f"{USERS}/ops@example.com")

    recorded = await events(client)
    assert [e["kind"] for e in recorded] == ["user_deleted", "user_changed", "user_created"]
    assert {(e["actor"], e["address"], e["subject"]) for e in recorded} == {
        (USER, "127.0.0.1", "ops@example.com")
    }
    assert recorded[1]["details"] == {"role": "operator", "passwordChanged": False}
    assert recorded[2]["details"] == {"role": "viewer"}


async def test_token_creation_and_revocation_are_recorded(client: httpx.AsyncClient) -> None:
    created = (await client.post(f"{JOB_PREFIX}/tokens", json={"name": "ci"})).json()
    await client.delete(f"{JOB_PREFIX}/tokens/{created['id']}")
    recorded = await events(client)
    assert [e["kind"] for e in recorded] == ["token_revoked", "token_created"]
    assert recorded[1]["details"] == {"tokenId": created["id"], "name": "ci", "role": "admin"}
    assert created["token"] not in str(recorded)


async def test_instance_deletions_are_recorded(
    client: httpx.AsyncClient,
) -> None:
    await running_cache(client, "Doomed")
    deleted = await client.delete(f"{INSTANCES}/Doomed")
    assert deleted.status_code == 202
    job_id = int(deleted.json()["details"]["jobId"])
    await wait_for_status(client, job_id)
    [deletion] = await events(client, kind="instance_deletion_requested")
    assert deletion["subject"] == "Doomed"
    assert deletion["details"] == {"serviceType": "caching", "jobId": job_id}


async def test_a_cancellation_is_recorded(idle_client: httpx.AsyncClient) -> None:
    submitted = await idle_client.post(
        INSTANCES, json={"serviceParameters": {"serviceName": "Stopped"}}
    )
    job_id = int(submitted.json()["details"]["jobId"])
    assert (await idle_client.post(f"{JOB_PREFIX}/job/{job_id}/cancel")).status_code == 200
    [cancelled] = await events(idle_client, kind="job_cancelled")
    assert cancelled["subject"] == f"job {job_id}"
    assert cancelled["details"]["jobId"] == job_id


async def test_events_filter_by_time_and_page(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await client.put(f"{USERS}/u{n}@example.com", json={"password": "longEnough"})
    assert len(await events(client, limit="2")) == 2
    assert [e["subject"] for e in await events(client, limit="1", offset="2")] == ["u0@example.com"]
    assert await events(client, to="2001-01-01") == []
    assert len(await events(client, **{"from": "2001-01-01"})) == 3


async def test_only_admins_read_the_audit_trail(app: Starlette, client_for: ClientFor) -> None:
    await add_tenant(store_of(app), user="ops@example.com", password="opsPassword", role="operator")
    assert (await client_for(app, "ops@example.com", "opsPassword").get(AUDIT)).status_code == 403


@pytest.mark.parametrize(
    ("params", "issue"),
    [
        ({"kind": "everything"}, "kind: unknown value 'everything'"),
        ({"from": "yesterday"}, "from: expected yyyy-MM-dd"),
        ({"limit": "-1"}, "limit: expected a whole number"),
    ],
)
async def test_an_invalid_query_is_400(
    client: httpx.AsyncClient, params: dict[str, str], issue: str
) -> None:
    response = await client.get(AUDIT, params=params)
    assert response.status_code == 400
    assert response.json()["details"]["issues"][0].startswith(issue)
