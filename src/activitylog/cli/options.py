"""Options that several server-side commands share."""

from __future__ import annotations

import click

db_option = click.option(
    "--db",
    envvar="ACTIVITYLOG_DB",
    default="activitylog.db",
    show_default=True,
    help="SQLite file path, or a postgresql:// URL. [env: ACTIVITYLOG_DB]",
)
