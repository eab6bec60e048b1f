"""The audit trail: events recorded, failed sign-ins counted per hour, read by time and kind."""

from __future__ import annotations

import pytest

from activitylog.domain import audit
from activitylog.domain.audit import AuditQuery
from activitylog.domain.dates import now_ms
from activitylog.store.base import Store
from activitylog.store.records import Actor, AuditRecord, Domain

pytestmark = pytest.mark.anyio

JOE = Actor("joe@example.com", "192.0.2.7")
MALLORY = Actor("mallory@example.com", "198.51.100.9")


async def test_an_event_is_recorded_and_read_back(store: Store, domain: Domain) -> None:
    before = now_ms()
    await store.record_audit_event(
        AuditRecord(domain.domain_id, audit.JOB_CANCELLED, JOE, "job 7", {"jobId": 7})
    )
    [event], total = await store.search_audit_events(domain.domain_id, AuditQuery())
    assert total == 1
    assert (event.kind, event.actor, event.address, event.subject) == (
        audit.JOB_CANCELLED,
        JOE.name,
        JOE.address,
        "job 7",
    )
    assert event.details == {"jobId": 7}
    assert event.occurrences == 1
    assert before <= event.occurred_at == event.last_occurred_at <= now_ms()


async def test_failed_sign_ins_are_counted_per_actor_and_address(
    store: Store, domain: Domain
) -> None:
    for _ in range(3):
        await store.count_failed_sign_in(domain.name, MALLORY)
    await store.count_failed_sign_in(domain.name, Actor(MALLORY.name, "203.0.113.5"))
    events, total = await store.search_audit_events(
        domain.domain_id, AuditQuery(kind=audit.SIGN_IN_FAILED)
    )
    assert total == 2
    counts = {(e.actor, e.address): e.occurrences for e in events}
    assert counts == {(MALLORY.name, MALLORY.address): 3, (MALLORY.name, "203.0.113.5"): 1}
    assert all(e.occurred_at <= e.last_occurred_at for e in events)


async def test_failed_sign_ins_in_an_unknown_domain_are_not_recorded(
    store: Store, domain: Domain
) -> None:
    await store.count_failed_sign_in("NoSuchDomain", MALLORY)
    assert await store.search_audit_events(domain.domain_id, AuditQuery()) == ([], 0)


async def test_events_filter_by_kind_and_time_and_page_newest_first(
    store: Store, domain: Domain
) -> None:
    for n in range(5):
        await store.record_audit_event(
            AuditRecord(domain.domain_id, audit.USER_CREATED, JOE, f"user{n}")
        )
    await store.record_audit_event(AuditRecord(domain.domain_id, audit.USER_DELETED, JOE, "user0"))
    everything, total = await store.search_audit_events(domain.domain_id, AuditQuery())
    assert total == 6
    assert [e.subject for e in everything][:2] == ["user0", "user4"]
    created, total = await store.search_audit_events(
        domain.domain_id, AuditQuery(kind=audit.USER_CREATED, limit=2, offset=1)
    )
    assert total == 5
    assert [e.subject for e in created] == ["user3", "user2"]
    middle = everything[3].occurred_at
    since, _ = await store.search_audit_events(domain.domain_id, AuditQuery(since_ms=middle))
    assert all(e.last_occurred_at >= middle for e in since)
    until, _ = await store.search_audit_events(domain.domain_id, AuditQuery(until_ms=middle))
    assert all(e.occurred_at <= middle for e in until)
    assert await store.search_audit_events(domain.domain_id, AuditQuery(until_ms=0)) == ([], 0)


async def test_events_stay_in_their_domain(store: Store, domain: Domain) -> None:
    other = await store.create_domain("OtherDomain")
    await store.record_audit_event(AuditRecord(other.domain_id, audit.USER_CREATED, JOE, "x"))
    await store.count_failed_sign_in(other.name, MALLORY)
    assert await store.search_audit_events(domain.domain_id, AuditQuery()) == ([], 0)
    assert (await store.search_audit_events(other.domain_id, AuditQuery()))[1] == 2
