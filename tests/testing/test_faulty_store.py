"""activitylog.testing.FaultyStore over a real SQLite store: each fault does what it says, and
a misspelt method name is refused rather than planning a fault that never comes."""

from __future__ import annotations

import time

import pytest

from activitylog import errors
from activitylog.store.base import Store
from activitylog.testing import Fault, FaultyStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def faulty(store: Store) -> FaultyStore:
    return FaultyStore(store, hang_seconds=0.05)


async def test_unavailable_fails_at_once_and_writes_nothing(faulty: FaultyStore) -> None:
    faulty.inject("create_domain", Fault.UNAVAILABLE)

    with pytest.raises(errors.StoreUnavailable, match="the database is unavailable"):
        await faulty.create_domain("exampledomain")

    assert await faulty.inner.get_domain("exampledomain") is None
    assert faulty.injected == [("create_domain", Fault.UNAVAILABLE)]


async def test_timeout_hangs_then_fails_and_writes_nothing(faulty: FaultyStore) -> None:
    faulty.inject("create_domain", Fault.TIMEOUT)

    started = time.monotonic()
    with pytest.raises(errors.StoreUnavailable, match="did not answer in time"):
        await faulty.create_domain("exampledomain")

    assert time.monotonic() - started >= 0.05
    assert await faulty.inner.get_domain("exampledomain") is None


async def test_a_lost_answer_fails_the_caller_but_the_write_committed(
    faulty: FaultyStore,
) -> None:
    faulty.inject("create_domain", Fault.LOST_ANSWER)

    with pytest.raises(errors.StoreUnavailable, match="answer was lost"):
        await faulty.create_domain("exampledomain")

    assert await faulty.inner.get_domain("exampledomain") is not None


async def test_injected_faults_are_used_up_then_calls_go_through(faulty: FaultyStore) -> None:
    faulty.inject("get_domain", Fault.UNAVAILABLE, times=2)

    for _ in range(2):
        with pytest.raises(errors.StoreUnavailable):
            await faulty.get_domain("exampledomain")
    assert await faulty.get_domain("exampledomain") is None


async def test_an_outage_fails_every_call_inside_the_block_only(faulty: FaultyStore) -> None:
    with faulty.outage():
        with pytest.raises(errors.StoreUnavailable):
            await faulty.get_domain("exampledomain")
        with pytest.raises(errors.StoreUnavailable):
            await faulty.create_domain("exampledomain")
    assert (await faulty.create_domain("exampledomain")).name == "exampledomain"


async def test_random_faults_are_the_same_for_the_same_seed(store: Store) -> None:
    async def failures(seed: int) -> list[bool]:
        faulty = FaultyStore(store, seed=seed)
        faulty.inject_randomly(["get_domain"], 0.5, [Fault.UNAVAILABLE])
        failed = []
        for _ in range(20):
            try:
                await faulty.get_domain("exampledomain")
            except errors.StoreUnavailable:
                failed.append(True)
            else:
                failed.append(False)
        return failed

    first = await failures(seed=3)
    assert first == await failures(seed=3)
    assert True in first
    assert False in first


async def test_clear_forgets_planned_faults(faulty: FaultyStore) -> None:
    faulty.inject("get_domain", Fault.UNAVAILABLE)
    faulty.inject_randomly(["get_domain"], 1.0, [Fault.UNAVAILABLE])

    faulty.clear()

    assert await faulty.get_domain("exampledomain") is None
    assert faulty.injected == []


@pytest.mark.parametrize("method", ["claim_job", "open", "close", "wait_for_new_jobs", "_call"])
async def test_only_store_methods_that_can_fail_are_accepted(
    faulty: FaultyStore, method: str
) -> None:
    with pytest.raises(ValueError, match="not a Store method that can be faulted"):
        faulty.inject(method, Fault.UNAVAILABLE)
    with pytest.raises(ValueError, match="not a Store method that can be faulted"):
        faulty.inject_randomly(["get_domain", method], 0.5, [Fault.UNAVAILABLE])
