"""Job changes as NOTIFY payloads: each carries its domain, and a bare job id (what processes
sent before changes had a domain) is still read, as a change of any domain."""

from __future__ import annotations

from activitylog.store.changes import JobChange
from activitylog.store.postgres_announcer import announcement
from activitylog.store.postgres_listener import change_payload, parse_change_payload


def test_a_change_travels_with_its_domain() -> None:
    assert change_payload(12, 7) == "7:12"
    assert parse_change_payload("7:12") == [JobChange(12, 7)]


def test_a_bare_job_id_is_a_change_of_an_unknown_domain() -> None:
    assert parse_change_payload("12,7:13") == [JobChange(12, None), JobChange(13, 7)]


def test_anything_else_in_a_payload_is_ignored() -> None:
    assert parse_change_payload("x,7:,:8,-1:3,,9:4") == [JobChange(4, 9)]


def test_the_announcers_batch_carries_each_change_with_its_domain() -> None:
    script = announcement([JobChange(3, 1), JobChange(2, 5)], new_job=False)

    payloads = [part.split("'")[3] for part in script.split(";") if "pg_notify" in part]
    assert payloads == ["5:2,1:3"]
    assert parse_change_payload(payloads[0]) == [JobChange(2, 5), JobChange(3, 1)]
