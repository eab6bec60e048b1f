"""`activitylog migrate --check`: exit 1 while migrations are pending, 0 once applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from activitylog.cli import main


def test_check_before_and_after_migrating(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    pending = CliRunner().invoke(main, ["migrate", "--check", "--db", db])
    assert pending.exit_code == 1
    assert "pending migrations" in pending.output
    assert not Path(db).exists()  # checking creates nothing
    assert CliRunner().invoke(main, ["migrate", "--db", db]).exit_code == 0
    current = CliRunner().invoke(main, ["migrate", "--check", "--db", db])
    assert current.exit_code == 0, current.output
    assert "up to date" in current.output
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM schema_migrations WHERE version = 7")
    behind = CliRunner().invoke(main, ["migrate", "--check", "--db", db])
    assert (behind.exit_code, "7" in behind.output) == (1, True)
