"""`activitylog backup` during a write load, then `restore`: an intact database holding every
job acknowledged before the backup started, with its messages."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from click.testing import CliRunner

from activitylog.cli import main
from activitylog.domain.jobs import JobStatus
from activitylog.store.base import open_store
from tests.contract.conftest import DOMAIN, operation


class WriteLoad:
    """Jobs submitted and ended, one after another, in a thread of its own, until stopped."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.acknowledged: list[int] = []
        self.stop = threading.Event()
        self.started = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()))

    async def _run(self) -> None:
        store = open_store(self.db)
        await store.open()
        try:
            domain = await store.create_domain(DOMAIN)
            n = 0
            while not self.stop.is_set():
                submitted = await store.submit_operation(operation(domain, f"c{n}"))
                (claimed,) = await store.claim_jobs("load", 30, 1)
                await store.finish_job(claimed, JobStatus.SUCCEED, [f"job {n} done"])
                self.acknowledged.append(submitted.job_id)  # durable: the write returned
                n += 1
                if n == 200:
                    self.started.set()
        finally:
            await store.close()


def test_backup_during_writes_then_restore(tmp_path: Path) -> None:
    db, copy, restored = (str(tmp_path / name) for name in ("live.db", "copy.db", "back.db"))
    load = WriteLoad(db)
    load.thread.start()
    try:
        assert load.started.wait(30)
        acknowledged = list(load.acknowledged)  # before the backup starts
        result = CliRunner().invoke(main, ["backup", "--db", db, "--to", copy])
        assert result.exit_code == 0, result.output
    finally:
        load.stop.set()
        load.thread.join(30)
    assert len(load.acknowledged) > len(acknowledged)  # it wrote during the backup, too

    result = CliRunner().invoke(main, ["restore", "--db", restored, "--from", copy])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(restored) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        found = dict(
            connection.execute(
                "SELECT j.job_id, count(m.position) FROM jobs j "
                "JOIN job_messages m ON m.job_id = j.job_id "
                "WHERE j.status = 'SUCCEED' GROUP BY j.job_id"
            ).fetchall()
        )
    # Submitted, Started, the handler's message, Ended.
    assert all(found.get(job_id) == 4 for job_id in acknowledged)


def test_restore_refuses_a_live_database(tmp_path: Path) -> None:
    db, copy = str(tmp_path / "live.db"), str(tmp_path / "copy.db")
    assert CliRunner().invoke(main, ["migrate", "--db", db]).exit_code == 0
    assert CliRunner().invoke(main, ["backup", "--db", db, "--to", copy]).exit_code == 0
    held = sqlite3.connect(db)
    try:
        held.execute("PRAGMA journal_mode = WAL")
        held.execute("SELECT 1 FROM jobs").fetchall()
        result = CliRunner().invoke(main, ["restore", "--db", db, "--from", copy])
        assert result.exit_code == 1
        assert "open in another process" in result.output
    finally:
        held.close()
    assert CliRunner().invoke(main, ["restore", "--db", db, "--from", copy]).exit_code == 0


def test_postgres_is_pointed_to_its_own_tools() -> None:
    result = CliRunner().invoke(
        main, ["backup", "--db", "postgresql://localhost/x", "--to", "copy.db"]
    )
    assert result.exit_code == 1
    assert "pg_dump" in result.output
