"""`activitylog instances list|show`: the identity domain's service instances, over the API."""

from __future__ import annotations

import datetime as dt

import click
from rich.table import Table

from activitylog.cli.client_commands import reporting_client_errors
from activitylog.cli.connection import Connect, connection_options
from activitylog.cli.rendering import (
    TimeZoneChoice,
    format_moment,
    output_console,
    time_zone_option,
    to_json,
)
from activitylog.client import Instance
from activitylog.client._wire import instance_to_wire


@click.group()
def instances() -> None:
    """List and show service instances (create and change them with `create`, `scale`...)."""


@instances.command("list")
@click.argument("service_type")
@click.option("--json", "as_json", is_flag=True, help='Print {"services":[...]}.')
@time_zone_option
@connection_options
@reporting_client_errors
def list_instances(
    service_type: str, as_json: bool, zone: TimeZoneChoice, connect: Connect
) -> None:
    """List the domain's instances of SERVICE_TYPE (e.g. caching)."""
    with connect().client() as client:
        found = client.instances(service_type)
    if as_json:
        click.echo(to_json({"services": [instance_to_wire(i) for i in found]}))
        return
    table = Table()
    for header in ("Name", "State", "Status", "Created", "Creator", "Parameters"):
        table.add_column(header, no_wrap=header != "Parameters")
    for listed in found:
        table.add_row(
            listed.service_name,
            listed.state,
            listed.status,
            _moment(listed.creation_date, zone),
            listed.creator,
            _parameters(listed),
        )
    output_console().print(table)


@instances.command("show")
@click.argument("service_type")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the instance as the server does.")
@time_zone_option
@connection_options
@reporting_client_errors
def show_instance(
    service_type: str, name: str, as_json: bool, zone: TimeZoneChoice, connect: Connect
) -> None:
    """Show instance NAME of SERVICE_TYPE: its state, dates and parameters."""
    with connect().client() as client:
        found = client.instance(service_type, name)
    if as_json:
        click.echo(to_json(instance_to_wire(found)))
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Instance", f"{found.service_type}/{found.service_name}  (id {found.service_id})")
    grid.add_row("State", f"{found.state}  ({found.status})" if found.status else found.state)
    if found.description:
        grid.add_row("Description", found.description)
    grid.add_row("Created", f"{_moment(found.creation_date, zone)} by {found.creator}")
    grid.add_row("Modified", _moment(found.last_modified_date, zone))
    grid.add_row("Parameters", _parameters(found) or "none")
    output_console().print(grid)


def _moment(moment: dt.datetime | None, zone: TimeZoneChoice) -> str:
    return "-" if moment is None else format_moment(moment, zone)


def _parameters(instance: Instance) -> str:
    return " ".join(f"{key}={value}" for key, value in instance.service_parameters.items())


INSTANCE_COMMANDS: list[click.Command] = [instances]
