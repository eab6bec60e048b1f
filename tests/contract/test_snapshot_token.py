"""The optional snapshot token: equal while nothing is committed, by any process; else new.

SQLite gives one (its WAL-index header, or data_version where that cannot be read);
PostgreSQL cannot tell without a round trip and gives None, which makes every claim below about
a token hold trivially.
"""

from __future__ import annotations

import pytest

from activitylog.store.base import SnapshotTokens, Store
from activitylog.store.records import Domain
from tests.conftest import claim_next_job
from tests.contract.conftest import OpenStore, Submit

pytestmark = pytest.mark.anyio


def token_of(store: Store) -> object | None:
    assert isinstance(store, SnapshotTokens)
    return store.snapshot_token()


async def test_sqlite_can_tell_and_postgres_cannot(store: Store, dialect: str) -> None:
    assert (token_of(store) is not None) == (dialect == "sqlite")


async def test_the_token_stays_while_nothing_is_committed(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    token = token_of(store)

    await store.get_job(domain.domain_id, submitted.job_id)
    await store.find_user(domain.name, "nobody")

    assert token_of(store) == token


async def test_the_token_changes_when_this_process_commits(store: Store, submit: Submit) -> None:
    token = token_of(store)

    await submit()

    assert token is None or token_of(store) != token


async def test_the_token_changes_when_another_process_commits(
    store: Store, submit: Submit, open_another_store: OpenStore
) -> None:
    submitted = await submit()
    another = await open_another_store()
    token = token_of(store)

    claimed = await claim_next_job(another, "another process", 30.0)

    assert claimed is not None
    assert claimed.job_id == submitted.job_id
    assert token is None or token_of(store) != token


async def test_a_reopened_store_never_repeats_a_token(store: Store, dialect: str) -> None:
    # data_version counts per connection, and reopening makes new ones.
    if dialect != "sqlite":
        pytest.skip("only SQLite gives tokens")
    token = token_of(store)

    await store.close()
    await store.open()

    assert token is None or token_of(store) != token
