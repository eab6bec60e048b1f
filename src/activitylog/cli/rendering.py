"""How the client commands show jobs and searches: rich text for people, JSON for scripts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from activitylog.client import ActivityMessage, Job, Submission, job_to_wire
from activitylog.client._wire import message_to_wire

_STATUS_STYLES = {
    "NEW": "cyan",
    "RUNNING": "yellow",
    "SUCCEED": "green",
    "FAILED": "bold red",
    "WARN": "magenta",
}


def output_console() -> Console:
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a pipe or a file: never cut a table down to 80 columns
        console.width = max(console.width, 200)
    return console


def to_json(document: Mapping[str, Any] | list[Any]) -> str:
    """Compact JSON, as the server writes it."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def job_json(job: Job) -> str:
    return to_json(job_to_wire(job))


def message_json(message: ActivityMessage) -> str:
    return to_json(message_to_wire(message))


def submission_json(submission: Submission) -> str:
    return to_json(
        {"jobId": submission.job_id, "location": submission.location, "message": submission.message}
    )


def page_json(jobs: Iterable[Job], total_count: int) -> str:
    return to_json({"activityLogs": [job_to_wire(j) for j in jobs], "totalCount": total_count})


def status_text(status: str) -> Text:
    return Text(status, style=_STATUS_STYLES.get(status, ""))


def format_elapsed(elapsed: dt.timedelta) -> str:
    seconds = elapsed.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# Where times are shown: None for the local zone (as TZ says), or a fixed one such as UTC.
TimeZoneChoice = dt.tzinfo | None


def _choose_zone(ctx: click.Context, param: click.Parameter, utc: bool) -> TimeZoneChoice:
    return dt.UTC if utc else None


time_zone_option = click.option(
    "--utc",
    "zone",
    is_flag=True,
    callback=_choose_zone,
    help="Show times in UTC  [default: the local zone, as TZ says].",
)


def in_zone(moment: dt.datetime, zone: TimeZoneChoice) -> dt.datetime:
    return moment.astimezone(zone)  # astimezone(None): the local zone


def zone_label(moment: dt.datetime) -> str:
    """The zone's abbreviation (CEST, UTC), or its offset (+05:30) where it has none."""
    name = moment.tzname() or ""
    if name.isalpha():
        return name
    offset = moment.strftime("%z")
    return f"{offset[:3]}:{offset[3:]}" if offset else name


def format_moment(moment: dt.datetime, zone: TimeZoneChoice = None) -> str:
    """``2017-03-30 23:27:34 CEST``: the date, the time to the second, and the zone."""
    shown = in_zone(moment, zone)
    return f"{shown:%Y-%m-%d %H:%M:%S} {zone_label(shown)}"


def format_precise_moment(moment: dt.datetime, zone: TimeZoneChoice = None) -> str:
    """``2017-03-30 23:27:34.554 CEST``: as format_moment, to the millisecond."""
    shown = in_zone(moment, zone)
    millis = shown.microsecond // 1000
    return f"{shown:%Y-%m-%d %H:%M:%S}.{millis:03d} {zone_label(shown)}"


def message_line(message: ActivityMessage, zone: TimeZoneChoice = None) -> Text:
    return Text.assemble((format_precise_moment(message.date, zone), "dim"), "  ", message.text)


def job_status(job: Job, zone: TimeZoneChoice = None) -> RenderableType:
    """The job in a few lines: what, status, when, elapsed time, and a progress bar if known."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Job", f"{job.job_id}  {job.operation_type} {job.service_type}/{job.service_name}")
    grid.add_row("Status", status_text(job.status))
    grid.add_row("Started", format_moment(job.start_date, zone))
    if job.end_date is not None:
        grid.add_row("Ended", format_moment(job.end_date, zone))
    grid.add_row("Elapsed", format_elapsed(job.elapsed()))
    if job.percent_complete is not None:
        progress = Table.grid(padding=(0, 1))
        progress.add_row(
            ProgressBar(total=100, completed=job.percent_complete, width=40),
            f"{job.percent_complete}%",
        )
        grid.add_row("Progress", progress)
    return grid


def print_job(
    console: Console, job: Job, *, with_messages: bool = True, zone: TimeZoneChoice = None
) -> None:
    console.print(job_status(job, zone))
    if with_messages and job.messages:
        console.print()
        for message in job.messages:
            console.print(message_line(message, zone))


def activities_table(jobs: Iterable[Job], caption: str, zone: TimeZoneChoice = None) -> Table:
    table = Table(caption=caption, caption_justify="left", expand=False)
    for header in ("Job", "Service", "Type", "Operation", "Status", "Started", "Elapsed"):
        table.add_column(header, no_wrap=True)
    for job in jobs:
        table.add_row(
            str(job.job_id),
            job.service_name,
            job.service_type,
            job.operation_type,
            status_text(job.status),
            format_moment(job.start_date, zone),
            format_elapsed(job.elapsed()),
        )
    return table
