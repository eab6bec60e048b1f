"""The activity-log search: every filter, every order, paging, and the count before paging."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.domain.search import MAX_BIGINT, MAX_LIMIT, ORDERABLE_FIELDS, JobQuery
from activitylog.store.base import Store
from activitylog.store.records import Domain, JobView
from tests.conftest import claim_next_job
from tests.contract.conftest import WORKER, RunNext, Submit, operation

pytestmark = pytest.mark.anyio

Order = tuple[tuple[str, bool], ...]


async def _pause() -> None:
    # Two ends (or starts) a few milliseconds apart sort apart; ties are tested as well,
    # since jobs submitted back to back often share a millisecond.
    await asyncio.sleep(0.003)


@pytest.fixture
async def jobs(store: Store, domain: Domain, submit: Submit, run_next: RunNext) -> list[JobView]:
    """Seven jobs in every status, two service types, mixed-case names; one job elsewhere."""
    ids = []
    for name, service_type, status in (
        ("alpha", "caching", JobStatus.SUCCEED),
        ("Beta", "caching", JobStatus.FAILED),
        ("gamma", "jaas", JobStatus.WARN),
    ):
        created = await submit(name, service_type=service_type)
        await run_next(created.job_id, status, [f"{name} ended."])
        ids.append(created.job_id)
        await _pause()
    stopping = await submit("alpha", OperationType.STOP_SERVICE)
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    assert claimed.job_id == stopping.job_id
    await store.append_message(claimed, "Stopping alpha.")
    ids.append(stopping.job_id)
    await _pause()
    ids.append((await submit("Beta", OperationType.DELETE_SERVICE)).job_id)
    ids.append((await submit("gamma", OperationType.SCALE_SERVICE, service_type="jaas")).job_id)
    ids.append((await submit("delta")).job_id)
    other = await store.create_domain("otherdomain")
    await store.submit_operation(operation(other, "alpha"))
    views = [await store.get_job(domain.domain_id, job_id) for job_id in ids]
    return [view for view in views if view is not None]


def expected(jobs: list[JobView], order: Order = (("start_date", False),)) -> list[int]:
    """The order the stores promise: the terms, running jobs' (absent) end dates last either
    way; after a last term of status, service type, operation type or service name, the start
    date; then job id; each tie-break in the direction of the last term."""
    terms = list(order)
    columns = {column for column, _ in order}
    grouping = {"status", "service_type", "operation_type", "service_name"}
    if terms[-1][0] in grouping and "start_date" not in columns:
        terms.append(("start_date", terms[-1][1]))
    if "job_id" not in columns:
        terms.append(("job_id", order[-1][1]))

    def compare(a: JobView, b: JobView) -> int:
        for column, ascending in terms:
            left, right = getattr(a, column), getattr(b, column)
            if left == right:
                continue
            if left is None or right is None:
                return 1 if left is None else -1
            return (-1 if left < right else 1) * (1 if ascending else -1)
        return 0

    return [job.job_id for job in sorted(jobs, key=functools.cmp_to_key(compare))]


async def search(store: Store, domain: Domain, **query: Any) -> tuple[list[int], int]:
    found, total = await store.search_jobs(domain.domain_id, JobQuery(**query))
    return [job.job_id for job in found], total


async def test_everything_newest_first_by_default(
    store: Store, domain: Domain, jobs: list[JobView]
) -> None:
    assert await search(store, domain) == (expected(jobs), 7)


async def test_found_jobs_are_whole_with_their_messages_in_order(
    store: Store, domain: Domain, jobs: list[JobView]
) -> None:
    found, _ = await store.search_jobs(domain.domain_id, JobQuery(order_by=(("job_id", True),)))
    assert found == jobs
    assert [m.text for m in found[0].messages] == [
        "Activity Submitted",
        "Activity Started",
        "alpha ended.",
        "Activity Ended",
    ]
    assert [m.text for m in found[3].messages] == [
        "Activity Submitted",
        "Activity Started",
        "Stopping alpha.",
    ]


async def test_by_service_name(store: Store, domain: Domain, jobs: list[JobView]) -> None:
    alpha = [job for job in jobs if job.service_name == "alpha"]
    assert await search(store, domain, service_name="alpha") == (expected(alpha), 2)
    assert await search(store, domain, service_name="ALPHA") == ([], 0)
    assert await search(store, domain, service_name="nothing") == ([], 0)


async def test_by_service_type(store: Store, domain: Domain, jobs: list[JobView]) -> None:
    jaas = [job for job in jobs if job.service_type == "jaas"]
    assert await search(store, domain, service_type="jaas") == (expected(jaas), 2)


@pytest.mark.parametrize(
    "statuses",
    [
        ("NEW",),
        ("RUNNING",),
        ("SUCCEED",),
        ("FAILED",),
        ("WARN",),
        ("RUNNING", "FAILED"),
        ("NEW", "SUCCEED", "WARN"),
    ],
)
async def test_by_status_any_of(
    store: Store, domain: Domain, jobs: list[JobView], statuses: tuple[str, ...]
) -> None:
    matching = [job for job in jobs if job.status in statuses]
    assert await search(store, domain, statuses=statuses) == (expected(matching), len(matching))


@pytest.mark.parametrize(
    "operation_types",
    [("CREATE_SERVICE",), ("STOP_SERVICE", "SCALE_SERVICE"), ("BACKUP",)],
)
async def test_by_operation_type_any_of(
    store: Store, domain: Domain, jobs: list[JobView], operation_types: tuple[str, ...]
) -> None:
    matching = [job for job in jobs if job.operation_type in operation_types]
    assert await search(store, domain, operation_types=operation_types) == (
        expected(matching),
        len(matching),
    )


async def test_filters_combine(store: Store, domain: Domain, jobs: list[JobView]) -> None:
    matching = [
        job
        for job in jobs
        if job.service_type == "caching"
        and job.status in ("NEW", "FAILED", "RUNNING")
        and job.operation_type != "STOP_SERVICE"
    ]
    found = await search(
        store,
        domain,
        service_type="caching",
        statuses=("NEW", "FAILED", "RUNNING"),
        operation_types=("CREATE_SERVICE", "DELETE_SERVICE"),
    )
    assert found == (expected(matching), len(matching))


async def test_by_start_date_range_bounds_included(
    store: Store, domain: Domain, jobs: list[JobView]
) -> None:
    low, high = jobs[1].start_date, jobs[4].start_date
    between = [job for job in jobs if low <= job.start_date <= high]
    assert await search(store, domain, from_start_ms=low, to_start_ms=high) == (
        expected(between),
        len(between),
    )
    after = [job for job in jobs if job.start_date >= high]
    assert await search(store, domain, from_start_ms=high) == (expected(after), len(after))
    before = [job for job in jobs if job.start_date <= low]
    assert await search(store, domain, to_start_ms=low) == (expected(before), len(before))
    assert await search(store, domain, from_start_ms=high + 10**9) == ([], 0)
    assert await search(store, domain, from_start_ms=high, to_start_ms=low - 1) == ([], 0)


@pytest.mark.parametrize("ascending", [True, False], ids=["asc", "desc"])
@pytest.mark.parametrize("field", list(ORDERABLE_FIELDS))
async def test_ordered_by_each_field(
    store: Store, domain: Domain, jobs: list[JobView], field: str, ascending: bool
) -> None:
    order = ((ORDERABLE_FIELDS[field], ascending),)
    assert await search(store, domain, order_by=order) == (expected(jobs, order), 7)


async def test_running_jobs_sort_last_by_end_date_either_way(
    store: Store, domain: Domain, jobs: list[JobView]
) -> None:
    for ascending in (True, False):
        found, _ = await store.search_jobs(
            domain.domain_id, JobQuery(order_by=(("end_date", ascending),))
        )
        ended = [job.end_date for job in found[:3]]
        assert ended == sorted(ended, reverse=not ascending)  # type: ignore[type-var]
        assert [job.end_date for job in found[3:]] == [None] * 4


async def test_ordered_by_several_fields(store: Store, domain: Domain, jobs: list[JobView]) -> None:
    order = (("service_type", True), ("service_name", False), ("start_date", True))
    assert await search(store, domain, order_by=order) == (expected(jobs, order), 7)


@pytest.mark.parametrize(
    "order",
    [
        (("start_date", False),),
        (("end_date", True),),
        (("service_name", True),),
        (("status", False),),
        (("job_id", True),),
    ],
    ids=["startDate", "endDate", "serviceName", "status", "jobId"],
)
@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_pages_neither_skip_nor_repeat(
    store: Store, domain: Domain, jobs: list[JobView], order: Order, limit: int
) -> None:
    pages: list[int] = []
    for offset in range(0, 9, limit):
        page, total = await search(store, domain, order_by=order, limit=limit, offset=offset)
        assert total == 7
        assert len(page) == max(0, min(limit, 7 - offset))
        pages.extend(page)
    assert pages == expected(jobs, order)


async def test_the_count_is_taken_before_paging(
    store: Store, domain: Domain, jobs: list[JobView]
) -> None:
    assert await search(store, domain, limit=0) == ([], 7)
    assert await search(store, domain, offset=100) == ([], 7)
    assert await search(store, domain, offset=MAX_BIGINT) == ([], 7)
    assert await search(store, domain, limit=MAX_LIMIT) == (expected(jobs), 7)
    assert await search(store, domain, statuses=("NEW",), limit=1, offset=1) == (
        expected([job for job in jobs if job.status == "NEW"])[1:2],
        3,
    )


async def test_another_domain_sees_only_its_own(store: Store, jobs: list[JobView]) -> None:
    other = await store.get_domain("otherdomain")
    assert other is not None
    found, total = await store.search_jobs(other.domain_id, JobQuery())
    assert total == 1
    assert [(job.service_name, job.identity_domain) for job in found] == [("alpha", other.name)]


async def test_an_empty_store_finds_nothing(store: Store, domain: Domain) -> None:
    assert await store.search_jobs(domain.domain_id, JobQuery()) == ([], 0)


async def test_text_with_a_nul_character_matches_nothing(
    store: Store, domain: Domain, jobs: list[JobView]
) -> None:
    assert await search(store, domain, service_name="alpha\x00") == ([], 0)
    assert await search(store, domain, service_type="\x00") == ([], 0)
    assert await search(store, domain, operation_types=("CREATE\x00",)) == ([], 0)
    creates = [job for job in jobs if job.operation_type == "CREATE_SERVICE"]
    assert await search(
        store, domain, operation_types=("CREATE_SERVICE", "CREATE_SERVICE\x00")
    ) == (expected(creates), len(creates))
    assert await store.get_instance(domain.domain_id, "caching", "alpha\x00") is None
    assert await store.list_instances(domain.domain_id, "caching\x00") == []


@pytest.mark.parametrize("ascending", [True, False], ids=["asc", "desc"])
@pytest.mark.parametrize("field", list(ORDERABLE_FIELDS))
async def test_pages_from_either_end_follow_every_order(
    store: Store, domain: Domain, jobs: list[JobView], field: str, ascending: bool
) -> None:
    # Pages past the middle are read from the other end, in reverse order: they must still
    # be the very rows of the forward order, running jobs' end dates included.
    order = ((ORDERABLE_FIELDS[field], ascending),)
    pages: list[int] = []
    for offset in range(0, 8, 2):
        page, total = await search(store, domain, order_by=order, limit=2, offset=offset)
        assert total == 7
        pages.extend(page)
    assert pages == expected(jobs, order)
    assert await search(store, domain, order_by=order, limit=3, offset=5) == (
        expected(jobs, order)[5:],
        7,
    )
    new = [job for job in jobs if job.status == "NEW"]
    assert await search(store, domain, statuses=("NEW",), order_by=order, offset=2) == (
        expected(new, order)[2:],
        3,
    )


async def counts_by_status(store: Store, domain: Domain) -> tuple[dict[str, int], dict[str, int]]:
    """Each status's totalCount as the search reads it from the kept counts, and as it counts
    the rows themselves (a start date filter that every job passes forces the count); the
    same for each service type within each status, keyed "STATUS/type"."""
    counted: dict[str, int] = {}
    scanned: dict[str, int] = {}
    for status in JobStatus:
        _, counted[status.value] = await search(store, domain, statuses=(status,))
        _, scanned[status.value] = await search(store, domain, statuses=(status,), from_start_ms=0)
        for service_type in ("caching", "jaas"):
            key, query = f"{status.value}/{service_type}", {"service_type": service_type}
            _, counted[key] = await search(store, domain, statuses=(status,), **query)
            _, scanned[key] = await search(
                store, domain, statuses=(status,), from_start_ms=0, **query
            )
    return counted, scanned


async def test_the_kept_counts_follow_every_change_of_status(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext
) -> None:
    async def check(expected_counts: dict[str, int]) -> None:
        counted, scanned = await counts_by_status(store, domain)
        wanted = {key: expected_counts.get(key, 0) for key in counted}
        for status in JobStatus:  # a status's count is its service types' sum
            types = [f"{status.value}/caching", f"{status.value}/jaas"]
            wanted[status.value] = sum(expected_counts.get(key, 0) for key in types)
        assert counted == scanned == wanted
        total = sum(wanted[status.value] for status in JobStatus)
        assert (await search(store, domain))[1] == total
        assert (await search(store, domain, service_type="jaas"))[1] == sum(
            wanted[f"{status.value}/jaas"] for status in JobStatus
        )

    await check({})
    first = await submit("alpha")
    second = await submit("beta")
    third = await submit("gamma")
    await submit("delta", service_type="jaas")
    await check({"NEW/caching": 3, "NEW/jaas": 1})
    await run_next(first.job_id, JobStatus.SUCCEED)
    await check({"NEW/caching": 2, "NEW/jaas": 1, "SUCCEED/caching": 1})
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    assert claimed.job_id == second.job_id
    await check({"NEW/caching": 1, "NEW/jaas": 1, "RUNNING/caching": 1, "SUCCEED/caching": 1})
    await store.release_job(claimed, "Worker shutting down.")
    await check({"NEW/caching": 2, "NEW/jaas": 1, "SUCCEED/caching": 1})
    await store.cancel_job(domain.domain_id, third.job_id, "joe")
    await check({"NEW/caching": 1, "NEW/jaas": 1, "FAILED/caching": 1, "SUCCEED/caching": 1})
    lost = await claim_next_job(store, WORKER, 0.05)
    assert lost is not None
    assert lost.job_id == second.job_id
    await asyncio.sleep(0.15)
    await store.rescue_expired_jobs()  # one attempt only: it ends FAILED
    await check({"NEW/jaas": 1, "FAILED/caching": 2, "SUCCEED/caching": 1})
    other = await store.create_domain("otherdomain")
    await store.submit_operation(operation(other, "alpha"))
    await check({"NEW/jaas": 1, "FAILED/caching": 2, "SUCCEED/caching": 1})
    assert (await store.search_jobs(other.domain_id, JobQuery(statuses=("NEW",))))[1] == 1
