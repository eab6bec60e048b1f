"""Seed a fresh database with many realistic jobs quickly, for the benchmarks: SQLite or PostgreSQL.

The schema and the tenant come from activitylog itself (its migrations and store API). The jobs,
their service instances and their messages are made by the database, in three INSERT ... SELECT
statements (seeding_sql.py): a million jobs and six and a half million messages take seconds,
where the store's one-write-per-call path would take hours.

    .venv/bin/python bench/seeding.py --jobs 1000000 [--db FILE | --db postgresql://...]

What is seeded, for ``count`` jobs (job ids 1..count, start dates increasing with the id, spread
evenly over the last 180 days):

- ``count / 10`` service instances of four service types, each named once (e.g.
  ``Cache0000042``), each with about 10 jobs spread over the whole span: a
  CREATE_SERVICE first, then STOP/START/SCALE/BACKUP/RESTART/PATCH in turn;
- each instance's last job is still RUNNING (4 of 5 instances, about 8 % of the jobs, all
  among the newest), or a DELETE_SERVICE that SUCCEEDed (the instance is then deleted);
- of the other jobs, 1 in 13 FAILED and the rest SUCCEEDed, each with the messages its
  operation writes (Submitted, Started, three to five steps, Ended: 6.5 per job);
- every job in one identity domain, the demo one, unless ``domains`` asks for more.

Every constraint holds: a RUNNING job is the last of its instance, so no instance has two jobs
in flight, and a deleted instance has none. RUNNING jobs hold a lease that lasts 30 days, so
that a worker started on the database leaves them alone.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import os
import secrets
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from activitylog.passwords import password_hasher
from activitylog.store.base import open_store
from activitylog.store.queries import load_numbered_queries, load_queries
from seeding_sql import MESSAGE_TABLE, POSTGRES, SQLITE, SeedPlan, message_rows, seeding_statements

MIN_JOBS = 100
# The tests' PostgreSQL (tests/postgres_server.py), unless the environment names another.
DEFAULT_POSTGRES = (
    os.environ.get("ACTIVITYLOG_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"
)


@dataclasses.dataclass(frozen=True, slots=True)
class SeededJobs:
    """What was seeded: the tenant, and one job id of each kind to look up."""

    domain: str
    user: str
    password: str
    terminal_job_id: int
    """A SUCCEEDed `caching` CREATE_SERVICE, with the 8 messages of a demo create."""
    running_job_id: int
    """A RUNNING `caching` job, with 4 messages so far."""
    jobs: int = 0
    messages: int = 0
    seconds: float = 0.0
    """How long the seeding took, schema and tenant included."""

    @property
    def headers(self) -> dict[str, str]:
        """What every request of the seeded tenant's user sends."""
        return auth_headers(self.user, self.password, self.domain)


def auth_headers(user: str, password: str, domain: str) -> dict[str, str]:
    """Basic credentials and the tenant header, as PSM clients send them."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}", "X-ID-TENANT-NAME": domain}


# -- SQLite ------------------------------------------------------------------------------------


def seed_jobs(path: str, count: int, *, domains: int = 1) -> SeededJobs:
    """Create the schema, the demo tenant and ``count`` jobs in the SQLite file ``path``."""
    plan = _plan(count, domains)
    started = time.monotonic()
    tenants = asyncio.run(_create_tenants(path, domains))
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        _load_sqlite(connection, plan, tenants)
        messages = connection.execute("SELECT count(*) FROM job_messages").fetchone()[0]
    finally:
        connection.close()
    return _seeded(plan, messages, time.monotonic() - started)


def _load_sqlite(c: sqlite3.Connection, plan: SeedPlan, tenants: list[tuple[int, str]]) -> None:
    # A fresh file: no journal while loading (a crash leaves a file nobody wants anyway); the
    # secondary indexes and the triggers dropped and made again afterwards with their own SQL,
    # since building an index from sorted rows is far quicker than a million random insertions;
    # and the job counts the triggers keep made in one go.
    c.execute("PRAGMA journal_mode = OFF")
    c.execute("PRAGMA synchronous = OFF")
    c.execute("PRAGMA cache_size = -1048576")  # KiB: 1 GiB, for the index builds' sorts
    c.execute("PRAGMA temp_store = MEMORY")
    dropped = c.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL AND tbl_name IN ('jobs', 'job_messages', 'service_instances')"
    ).fetchall()
    c.execute("BEGIN")
    c.execute(MESSAGE_TABLE)
    c.executemany("INSERT INTO seed_messages VALUES (?, ?, ?, ?, ?)", message_rows())
    for kind, name, _ in dropped:
        c.execute(f'DROP {kind.upper()} "{name}"')
    for step in seeding_statements(plan, SQLITE, tenants):
        for statement in step:
            c.execute(statement)
    for _, _, sql in dropped:
        c.execute(sql)
    c.execute("DELETE FROM job_counts")
    c.execute(load_queries("sqlite")["recount_jobs"])
    c.execute("UPDATE id_sequences SET last_value = ? WHERE name = 'activity_log'", [plan.jobs])
    c.execute("COMMIT")
    c.execute("PRAGMA journal_mode = WAL")  # as the store leaves it


# -- PostgreSQL --------------------------------------------------------------------------------


def seed_postgres(url: str, count: int, *, domains: int = 1) -> SeededJobs:
    """Create the schema, the demo tenant and ``count`` jobs in the empty database at ``url``."""
    return asyncio.run(_seed_postgres(url, count, domains))


async def _seed_postgres(url: str, count: int, domains: int) -> SeededJobs:
    plan = _plan(count, domains)
    started = time.monotonic()
    tenants = await _create_tenants(url, domains)
    # Generating the rows costs as much CPU as writing them: one connection per core, each
    # on its own range of job ids. No transaction around it all: the database is new.
    connections = [await asyncpg.connect(url) for _ in range(min(os.cpu_count() or 1, 4))]
    try:
        for connection in connections:
            await _prepare_session(connection)
        first = connections[0]
        # PostgreSQL's own advice for a bulk load: without the foreign keys and the
        # secondary indexes, made again afterwards with their own definitions (which checks
        # every row against them, in one pass each).
        foreign_keys = await first.fetch(_PG_FOREIGN_KEYS, list(_SEEDED_TABLES))
        indexes = await first.fetch(_PG_SECONDARY_INDEXES, list(_SEEDED_TABLES))
        for table, name, _ in foreign_keys:
            await first.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            await first.execute(f'DROP INDEX "{name}"')
        # The trigger that keeps job_counts would update one of its rows per job.
        await first.execute("ALTER TABLE jobs DISABLE TRIGGER USER")
        for step in seeding_statements(plan, POSTGRES, tenants, len(connections)):
            await _run_at_once(connections, step)
            await first.execute("ANALYZE jobs")  # for the plan of the messages' join
        await first.execute("ALTER TABLE jobs ENABLE TRIGGER USER")
        await first.execute("DELETE FROM job_counts")
        await first.execute(load_numbered_queries("postgres")["recount_jobs"].sql)
        await _run_at_once(connections, [definition for _, definition in indexes])
        for table, name, definition in foreign_keys:
            await first.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for sequence, value in (
            ("jobs_job_id_seq", plan.jobs),
            ("service_instances_service_id_seq", plan.instances),
            ("activity_log_id_seq", plan.jobs),
        ):
            await first.execute("SELECT setval($1, $2)", sequence, value)
        # What autovacuum does within a minute or so of a bulk load: statistics for the
        # planner, and the visibility map that lets index-only scans skip the table.
        await first.execute("VACUUM (ANALYZE) jobs, job_messages, service_instances, job_counts")
        messages = await first.fetchval("SELECT count(*) FROM job_messages")
    finally:
        for connection in connections:
            await connection.close()
    return _seeded(plan, messages, time.monotonic() - started)


async def _prepare_session(connection: Any) -> None:
    """The message templates (a temporary table: one per session), and memory for indexes."""
    await connection.execute("SET maintenance_work_mem = '256MB'")
    await connection.execute("SET jit = off")  # compiling the CASEs costs more than it saves
    await connection.execute(MESSAGE_TABLE)
    await connection.copy_records_to_table("seed_messages", records=message_rows())
    await connection.execute("ANALYZE seed_messages")


async def _run_at_once(connections: list[Any], statements: list[str]) -> None:
    """Run ``statements``, as many at a time as there are connections."""
    queue = list(statements)

    async def run(connection: Any) -> None:
        while queue:
            await connection.execute(queue.pop(0))

    await asyncio.gather(*(run(connection) for connection in connections))


_SEEDED_TABLES = ("service_instances", "jobs", "job_messages")
_PG_FOREIGN_KEYS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE contype = 'f' AND conrelid::regclass::text = ANY($1::text[])
ORDER BY conrelid::regclass::text, conname
"""
_PG_SECONDARY_INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid::regclass::text = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str, prefix: str = "activitylog_bench") -> Iterator[str]:
    """A new, empty database on the server of ``admin_url``, dropped on the way out."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        # FORCE: a server that did not stop in time must not keep the database alive.
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


# -- both --------------------------------------------------------------------------------------


def add_seeded_database_options(parser: argparse.ArgumentParser, existing_note: str = "") -> None:
    """--jobs, --db and --existing: what seeded_database takes, with one wording everywhere."""
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs (default 1000000)")
    parser.add_argument(
        "--db",
        default=None,
        help="a PostgreSQL URL on 127.0.0.1 (e.g. postgresql://postgres@127.0.0.1:5432/test) "
        "on whose server a new database is seeded and dropped afterwards; default SQLite",
    )
    parser.add_argument(
        "--existing",
        default=None,
        help="a database seeding.py made earlier (a file or a URL): used as it is, not seeded"
        + existing_note,
    )


@contextlib.contextmanager
def seeded_database(
    work: Path, jobs: int, db: str | None = None, existing: str | None = None
) -> Iterator[tuple[str, SeededJobs]]:
    """A seeded database for one benchmark: its path or URL, and what is in it.

    ``db`` None seeds a SQLite file in ``work``; a PostgreSQL URL seeds a new database on that
    server, dropped on the way out. ``existing`` names a database seeding.py made earlier (kept
    by `seeding.py --db`), used as it is, so that several runs can share one seeding.
    """
    if existing is not None:
        yield existing, describe_seeded(existing)
    elif db is not None and is_postgres(db):
        with fresh_postgres_database(db) as url:
            yield url, seed_postgres(url, jobs)
    else:
        path = str(work / "activitylog.db")
        yield path, seed_jobs(path, jobs)


def describe_seeded(db: str) -> SeededJobs:
    """What seeding.py put in ``db``: the job ids follow from the number of jobs."""
    query = "SELECT count(*) FROM jobs"
    if is_postgres(db):
        count = int(asyncio.run(_fetch_value(db, query)))
    else:
        connection = sqlite3.connect(db)
        try:
            count = int(connection.execute(query).fetchone()[0])
        finally:
            connection.close()
    terminal, running = SeedPlan(count).sample_jobs()
    return SeededJobs(DEMO_DOMAIN, DEMO_USER, DEMO_PASSWORD, terminal, running, count)


def postgres_answers(admin_url: str) -> bool:
    async def ping() -> None:
        connection = await asyncpg.connect(admin_url, timeout=3)
        await connection.close()

    try:
        asyncio.run(ping())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def is_postgres(db: str) -> bool:
    return db.startswith(("postgres://", "postgresql://"))


async def _fetch_value(url: str, query: str) -> Any:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


def _plan(count: int, domains: int) -> SeedPlan:
    if count < MIN_JOBS:
        raise ValueError(f"seed at least {MIN_JOBS} jobs, so that some are running")
    return SeedPlan(count, domains)


def _seeded(plan: SeedPlan, messages: int, seconds: float) -> SeededJobs:
    terminal, running = plan.sample_jobs()
    print(
        f"seeded {plan.jobs:,} jobs, {plan.instances:,} instances and {messages:,} messages "
        f"in {seconds:.1f} s",
        file=sys.stderr,
    )
    return SeededJobs(
        DEMO_DOMAIN, DEMO_USER, DEMO_PASSWORD, terminal, running, plan.jobs, messages, seconds
    )


async def _create_tenants(db: str, domains: int) -> list[tuple[int, str]]:
    """Migrate through the store; create the demo domain and user the way the CLI does, and
    ``domains - 1`` more domains. Their (id, name)s, the demo one first."""
    store = open_store(db)
    await store.open()
    try:
        created = [await store.create_domain(DEMO_DOMAIN)]
        hashed = await asyncio.to_thread(password_hasher().hash, DEMO_PASSWORD)
        await store.create_user(DEMO_DOMAIN, DEMO_USER, hashed, "admin")
        created += [await store.create_domain(f"usexample{k}") for k in range(1, domains)]
    finally:
        await store.close()
    return [(domain.domain_id, domain.name) for domain in created]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs (default 1000000)")
    parser.add_argument("--domains", type=int, default=1, help="identity domains (default 1)")
    parser.add_argument(
        "--db",
        default=None,
        help="a new SQLite file, or a PostgreSQL admin URL on which a database is created "
        "(and kept: its URL is printed); default: a SQLite file in a temporary directory",
    )
    options = parser.parse_args(argv)
    if options.db and is_postgres(options.db):
        name = f"activitylog_seeded_{secrets.token_hex(4)}"
        asyncio.run(_admin(options.db, f'CREATE DATABASE "{name}"'))
        url = urllib.parse.urlsplit(options.db)._replace(path=f"/{name}").geturl()
        try:
            seed_postgres(url, options.jobs, domains=options.domains)
        except BaseException:
            asyncio.run(_admin(options.db, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            raise
        print(url)
        return 0
    if options.db:
        seed_jobs(options.db, options.jobs, domains=options.domains)
        return 0
    import tempfile  # noqa: PLC0415 - only this path needs it

    with tempfile.TemporaryDirectory(prefix="activitylog-seed-") as directory:
        seed_jobs(f"{directory}/seeded.db", options.jobs, domains=options.domains)
    return 0


if __name__ == "__main__":
    sys.exit(main())
