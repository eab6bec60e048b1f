"""Idempotent submission: one key, one job, however the requests race; 24 hours, then free."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3

import asyncpg
import pytest

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import IDEMPOTENCY_WINDOW_MS
from activitylog.domain.search import JobQuery
from activitylog.store.base import Store
from activitylog.store.records import Domain, IdempotencyKey, OperationRequest
from tests.conftest import claim_next_job
from tests.contract.conftest import OpenStore, operation

pytestmark = pytest.mark.anyio

KEY = IdempotencyKey("4f1e7c2a-retry-me", "fingerprint-of-the-first-request")


def keyed(domain: Domain, key: IdempotencyKey = KEY, name: str = "MyCache") -> OperationRequest:
    return dataclasses.replace(operation(domain, name), idempotency=key)


async def job_count(store: Store, domain: Domain) -> int:
    return (await store.search_jobs(domain.domain_id, JobQuery(limit=0)))[1]


async def age_keys(database: str, milliseconds: int) -> None:
    """Make every stored key look older, as if that much time had passed."""
    statement = f"UPDATE idempotency_keys SET created_at = created_at - {milliseconds}"
    if database.startswith("postgresql://"):
        connection = await asyncpg.connect(database)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()
        return
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(statement)


async def test_a_repeat_gets_the_first_job(store: Store, domain: Domain) -> None:
    first = await store.submit_operation(keyed(domain))
    again = await store.submit_operation(keyed(domain))

    assert not first.replayed
    assert again.replayed
    assert (again.job_id, again.activity_log_id, again.service_id) == (
        first.job_id,
        first.activity_log_id,
        first.service_id,
    )
    assert await job_count(store, domain) == 1


async def test_a_repeat_after_the_job_ended_still_gets_it(store: Store, domain: Domain) -> None:
    first = await store.submit_operation(keyed(domain))
    claimed = await claim_next_job(store, "worker", 30.0)
    assert claimed is not None
    await store.cancel_job(domain.domain_id, first.job_id, "joe")

    assert (await store.submit_operation(keyed(domain))).job_id == first.job_id


async def test_the_same_key_with_another_request_is_refused(store: Store, domain: Domain) -> None:
    await store.submit_operation(keyed(domain))
    other = dataclasses.replace(KEY, fingerprint="fingerprint-of-another-request")

    with pytest.raises(errors.IdempotencyKeyReused):
        await store.submit_operation(keyed(domain, other, name="Other"))
    assert await job_count(store, domain) == 1


async def test_requests_racing_with_one_key_make_one_job(
    store: Store, domain: Domain, open_another_store: OpenStore
) -> None:
    stores = [store, await open_another_store()]

    submitted = await asyncio.gather(
        *(stores[index % 2].submit_operation(keyed(domain)) for index in range(16))
    )

    assert len({s.job_id for s in submitted}) == 1
    assert sum(not s.replayed for s in submitted) == 1
    assert await job_count(store, domain) == 1


async def test_a_refused_submission_does_not_use_up_its_key(store: Store, domain: Domain) -> None:
    stop = dataclasses.replace(keyed(domain), operation_type=OperationType.STOP_SERVICE)
    with pytest.raises(errors.InstanceNotFound):
        await store.submit_operation(stop)

    created = await store.submit_operation(keyed(domain))
    assert not created.replayed


async def test_keys_belong_to_their_identity_domain(store: Store, domain: Domain) -> None:
    other = await store.create_domain("OtherDomain")
    mine = await store.submit_operation(keyed(domain))
    theirs = await store.submit_operation(keyed(other))

    assert not theirs.replayed
    assert theirs.job_id != mine.job_id


async def test_a_key_is_free_again_after_24_hours(
    store: Store, domain: Domain, database: str
) -> None:
    first = await store.submit_operation(keyed(domain))
    await age_keys(database, IDEMPOTENCY_WINDOW_MS - 60_000)
    assert (await store.submit_operation(keyed(domain))).job_id == first.job_id

    await age_keys(database, 120_000)
    other = dataclasses.replace(KEY, fingerprint="a-new-request-after-a-day")
    later = await store.submit_operation(keyed(domain, other, name="Later"))

    assert not later.replayed
    assert later.job_id != first.job_id
    assert (await store.submit_operation(keyed(domain, other, name="Later"))).job_id == (
        later.job_id
    )
