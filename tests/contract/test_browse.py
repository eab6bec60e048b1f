"""The console's Activity page as the store serves it (Store.browse_jobs): keyset pages that
cover every job once, in order, across jobs that share a start date; and counts per status
equal to the search's totals."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.domain.search import JobQuery, Keyset
from activitylog.store import operations, postgres_group_commit
from activitylog.store.base import Store
from activitylog.store.records import Domain, JobView
from tests.conftest import claim_next_job
from tests.contract.conftest import WORKER, RunNext, Submit

pytestmark = pytest.mark.anyio

START_MS = 1_700_000_000_000


@pytest.fixture
async def tied_jobs(
    store: Store, domain: Domain, submit: Submit, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Twelve jobs started at four instants, three at each (two services' jobs among them);
    their ids, newest first as the page orders them."""
    instants = itertools.chain.from_iterable(itertools.repeat(START_MS + i, 3) for i in range(4))
    clock = iter(instants)
    for module in (operations, postgres_group_commit):
        monkeypatch.setattr(module, "now_ms", lambda: next(clock))
    ids = [
        (await submit(f"tied{index}", service_type="jaas" if index % 3 else "caching")).job_id
        for index in range(12)
    ]
    return sorted(ids, reverse=True)  # ids grow with the start date: the default order


async def walk(store: Store, domain: Domain, query: JobQuery, *, older: bool) -> list[int]:
    """Every page from one end to the other, each next to the last row of the one before."""
    limit = query.limit
    pages: list[list[JobView]] = []
    views, _ = await store.browse_jobs(domain.domain_id, query)
    if not older:  # start from the oldest page: newer than nothing older than the oldest job
        views, _ = await store.browse_jobs(
            domain.domain_id, dataclasses.replace(query, keyset=Keyset(0, 0, older=False))
        )
    while views:
        pages.append(views)
        assert len(views) <= limit
        assert len(pages) <= 12, "the pages go round in circles"
        edge = views[-1] if older else views[0]
        keyset = Keyset(edge.start_date, edge.job_id, older=older)
        views, _ = await store.browse_jobs(
            domain.domain_id, dataclasses.replace(query, keyset=keyset)
        )
    ordered = [view.job_id for page in (pages if older else reversed(pages)) for view in page]
    for page in pages:  # every page newest first, as the Activity page shows it
        assert page == sorted(page, key=lambda v: (v.start_date, v.job_id), reverse=True)
    return ordered


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
async def test_keyset_pages_cover_every_job_once_across_equal_start_dates(
    store: Store, domain: Domain, tied_jobs: list[int], limit: int
) -> None:
    query = JobQuery(limit=limit)
    assert await walk(store, domain, query, older=True) == tied_jobs
    # From the oldest end back up, the newer pages: the same jobs, in the same order.
    assert await walk(store, domain, query, older=False) == tied_jobs


async def test_keyset_pages_keep_the_filter(
    store: Store, domain: Domain, tied_jobs: list[int]
) -> None:
    jaas = [
        view.job_id
        for view in (
            await store.search_jobs(domain.domain_id, JobQuery(service_type="jaas", limit=100))
        )[0]
    ]
    assert len(jaas) == 8
    query = JobQuery(service_type="jaas", limit=3)
    assert await walk(store, domain, query, older=True) == jaas
    assert await walk(store, domain, query, older=False) == jaas


async def test_a_keyset_page_starts_next_to_its_job_and_not_at_it(
    store: Store, domain: Domain, tied_jobs: list[int]
) -> None:
    middle = await store.get_job(domain.domain_id, tied_jobs[4])
    assert middle is not None
    near = Keyset(middle.start_date, middle.job_id, older=True)
    older, _ = await store.browse_jobs(domain.domain_id, JobQuery(limit=2, keyset=near))
    assert [v.job_id for v in older] == tied_jobs[5:7]
    near = dataclasses.replace(near, older=False)
    newer, _ = await store.browse_jobs(domain.domain_id, JobQuery(limit=2, keyset=near))
    assert [v.job_id for v in newer] == tied_jobs[2:4]


async def test_a_keyset_page_is_in_the_default_order_only(
    store: Store, domain: Domain, tied_jobs: list[int]
) -> None:
    query = JobQuery(order_by=(("job_id", True),), keyset=Keyset(START_MS, tied_jobs[0], True))
    with pytest.raises(ValueError, match="default order"):
        await store.browse_jobs(domain.domain_id, query)


@pytest.fixture
async def mixed_jobs(store: Store, domain: Domain, submit: Submit, run_next: RunNext) -> None:
    """Jobs in every status, of two service types and three operations."""
    for name, service_type, status in (
        ("alpha", "caching", JobStatus.SUCCEED),
        ("beta", "caching", JobStatus.FAILED),
        ("gamma", "jaas", JobStatus.WARN),
        ("delta", "jaas", JobStatus.SUCCEED),
    ):
        created = await submit(name, service_type=service_type)
        await run_next(created.job_id, status)
    stopping = await submit("alpha", OperationType.STOP_SERVICE)
    claimed = await claim_next_job(store, WORKER, 30.0)  # alpha's stop, left RUNNING
    assert claimed is not None
    assert claimed.job_id == stopping.job_id
    await submit("delta", OperationType.SCALE_SERVICE, service_type="jaas")  # NEW
    await submit("epsilon")  # NEW


QUERIES = [
    JobQuery(),
    JobQuery(statuses=("FAILED", "NEW")),
    JobQuery(service_type="jaas"),
    JobQuery(service_type="jaas", statuses=("SUCCEED",)),
    JobQuery(operation_types=("CREATE_SERVICE",)),
    JobQuery(service_name="alpha"),
    JobQuery(from_start_ms=0, to_start_ms=2**62),
    JobQuery(service_type="nothing"),
]


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
async def test_counts_equal_the_searchs_totals(
    store: Store, domain: Domain, mixed_jobs: None, query: JobQuery
) -> None:
    views, counts = await store.browse_jobs(domain.domain_id, query)
    assert set(counts) == {status.value for status in JobStatus}
    for status in JobStatus:
        one = dataclasses.replace(query, statuses=(status.value,))
        assert counts[status.value] == (await store.search_jobs(domain.domain_id, one))[1]
    found, total = await store.search_jobs(domain.domain_id, query)
    assert [v.job_id for v in views] == [v.job_id for v in found]
    assert total == sum(counts[s] for s in (query.statuses or counts))
    assert all(view.messages == () for view in views)  # the page shows none
