"""The operator's commands on a database: prune what the retention lets go (docs/operations.md)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from activitylog import errors
from activitylog.cli.settings_options import db_option, setting_option


def _duration(context: click.Context, parameter: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    from activitylog.domain.retention import parse_duration_ms  # noqa: PLC0415

    try:
        return parse_duration_ms(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@db_option
@click.option(
    "--older-than",
    callback=_duration,
    help="Prune jobs that ended longer ago than this (30d, 12h, 1d12h), whatever their "
    "domain's or type's retention; without it, the retention policy (--retention-days and "
    "the [retention] table of --config).",
)
@click.option("--domain", help="Only this identity domain's jobs, keys and audit events.")
@click.option("--dry-run", is_flag=True, help="Count what would go; remove nothing.")
@setting_option("retention_days", type=click.FloatRange(0, 36_500))
@setting_option("prune_batch_size", type=click.IntRange(1, 100_000))
@setting_option("config", type=click.Path(dir_okay=False), help="activitylog.toml ([retention]).")
def prune(
    db: str,
    older_than: int | None,
    domain: str | None,
    dry_run: bool,
    **options: Any,
) -> None:
    """Remove ended jobs (with their messages and idempotency keys), idempotency keys and
    audit events older than the retention. Jobs that have not ended are never removed."""
    from activitylog.domain.retention import older_than as older_than_policy  # noqa: PLC0415
    from activitylog.engine.retention_config import retention_policy  # noqa: PLC0415
    from activitylog.settings import Settings  # noqa: PLC0415

    try:
        settings = Settings(**_with_file_settings({"db": db, **options}))
        policy = (
            retention_policy(settings)
            if older_than is None
            else older_than_policy(older_than, domain)
        )
        asyncio.run(_prune(settings, policy, domain, dry_run))
    except errors.ActivityLogError as exc:
        raise click.ClickException(exc.message) from exc


def _with_file_settings(options: dict[str, Any]) -> dict[str, Any]:
    """Flag > environment > the --config file's [settings] > default, as for `serve`."""
    from activitylog.cli.server_commands import FILE_SETTINGS  # noqa: PLC0415
    from activitylog.cli.settings_sources import with_file_settings  # noqa: PLC0415

    return with_file_settings(click.get_current_context(), options, FILE_SETTINGS)


async def _prune(settings: Any, policy: Any, domain: str | None, dry_run: bool) -> None:
    from activitylog.store import open_store  # noqa: PLC0415

    store = open_store(settings.db)
    await store.open()
    try:
        prunable = await store.count_prunable_jobs(policy, domain=domain)
        for found in prunable:
            click.echo(
                f"{found.domain}\t{found.service_type}\t{found.jobs} jobs\t"
                f"{found.messages} messages"
            )
        total = sum(found.jobs for found in prunable)
        if dry_run:
            click.echo(f"would remove {total} ended jobs (dry run: nothing removed)")
            return
        removed = await _prune_with_progress(store, policy, domain, total, settings)
        click.echo(
            f"removed {removed[0]} jobs, {removed[1]} messages, {removed[2]} idempotency keys, "
            f"{removed[3]} audit events"
        )
    finally:
        await store.close()


async def _prune_with_progress(
    store: Any, policy: Any, domain: str | None, total: int, settings: Any
) -> tuple[int, int, int, int]:
    """Batches until one is not full, with a progress bar when stderr is a terminal."""
    from rich.progress import Progress  # noqa: PLC0415

    removed = [0, 0, 0, 0]
    with Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
        task = progress.add_task("pruning", total=total or None)
        while True:
            batch = await store.prune_ended_jobs(
                policy, limit=settings.prune_batch_size, domain=domain
            )
            if batch.skipped:
                raise click.ClickException(
                    "another process is pruning this database right now; try again later"
                )
            counts = (batch.jobs, batch.messages, batch.idempotency_keys, batch.audit_events)
            removed = [a + b for a, b in zip(removed, counts, strict=True)]
            progress.update(task, advance=batch.jobs)
            if not batch.more:
                return removed[0], removed[1], removed[2], removed[3]


OPERATIONS_COMMANDS: list[click.Command] = [prune]


@click.command()
@db_option
@click.option("--to", "target", required=True, type=click.Path(dir_okay=False), help="The copy.")
def backup(db: str, target: str) -> None:
    """Copy a SQLite database, consistently, while `serve` runs and writes (SQLite's online
    backup API). For PostgreSQL use pg_dump or pg_basebackup (docs/operations.md)."""
    from activitylog.store.sqlite_backup import backup_sqlite  # noqa: PLC0415

    _sqlite_only(db)
    with _progress_bar("backing up") as advance:
        backup_sqlite(_path(db), target, advance)
    click.echo(f"backed up {db} to {target}")


@click.command()
@db_option
@click.option("--from", "source", required=True, type=click.Path(exists=True, dir_okay=False))
def restore(db: str, source: str) -> None:
    """Put a backup in place of the SQLite database --db; refused while a process has it open
    (stop `serve` and `worker` first)."""
    from activitylog.store.sqlite_backup import DatabaseInUse, restore_sqlite  # noqa: PLC0415

    _sqlite_only(db)
    try:
        with _progress_bar("restoring") as advance:
            restore_sqlite(source, _path(db), advance)
    except DatabaseInUse as exc:
        raise click.ClickException(
            f"{db} is open in another process (its -wal/-shm files exist): stop serve and "
            "worker first; if none uses it (a crash left them), open it once with "
            f"`activitylog migrate --db {db}` to checkpoint them away"
        ) from exc
    except Exception as exc:  # a damaged backup, say: said, not a traceback
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {db} from {source}")


def _sqlite_only(db: str) -> None:
    if db.startswith(("postgres://", "postgresql://")):
        raise click.ClickException(
            "backup and restore copy SQLite files; for PostgreSQL use pg_dump / pg_restore or "
            "pg_basebackup (docs/operations.md)"
        )


def _path(db: str) -> str:
    return db.removeprefix("sqlite:///").removeprefix("sqlite://")


@contextlib.contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import Progress  # noqa: PLC0415

    with Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


OPERATIONS_COMMANDS.extend([backup, restore])
