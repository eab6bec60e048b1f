"""What seeding.py puts in a database, and the SQL that makes it, for either dialect.

Every row is a function of its job id and the plan (see seeding.py's docstring), computed by
the database itself: a recursive CTE (SQLite) or generate_series (PostgreSQL) numbers the jobs,
small lookups are CASE expressions, and one small table of message templates is joined.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from activitylog.demo import DEMO_USER
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import ENDED_MESSAGE, STARTED_MESSAGE, SUBMITTED_MESSAGE

JOBS_PER_INSTANCE = 10
SPAN_DAYS = 180
LEASE_DAYS = 30
DAY_MS = 86_400_000
FAILED_EVERY = 13
"""One job in this many (not the first or last of its instance) FAILED."""
DELETED_EVERY = 5
"""One instance in this many ended with a DELETE_SERVICE; the others' last job is RUNNING."""
SERVICE_TYPES = (("caching", "Cache"), ("jaas", "Jaas"), ("dbaas", "Db"), ("MySQLCS", "MySql"))
"""Service type and the prefix of its instances' names, taken in turn by instance."""
OPERATION_CYCLE = (
    "STOP_SERVICE",
    "START_SERVICE",
    "SCALE_SERVICE",
    "BACKUP",
    "RESTART_SERVICE",
    "PATCH",
)
"""The operations after an instance's CREATE_SERVICE, in turn (a STOP is followed by a START)."""
SYSTEM_OPERATIONS = ("BACKUP", "PATCH")
"""Operations the platform starts by itself: initiatedBy SYSTEM."""

_WHERE = "service [{name}] in identity domain [{domain}]"
_STEPS: dict[str, tuple[str, ...]] = {
    # The five steps of a demo `caching` create (engine/demo_caching.py), word for word.
    "CREATE_SERVICE": (
        f"Started operation to create {_WHERE}.",
        "Acquired resources for instance(1G) {node}...",
        "Deploying cache cluster on {node}...",
        "Cache cluster deployed and listening on {node}:9000.",
        f"Completed operation to create {_WHERE}.",
    ),
    "DELETE_SERVICE": (
        f"Started operation to delete {_WHERE}.",
        "Stopping cache cluster on {node}...",
        "Released resources of instance {node}.",
        f"Completed operation to delete {_WHERE}.",
    ),
    "STOP_SERVICE": (
        f"Started operation to stop {_WHERE}.",
        "Stopping cache cluster on {node}...",
        f"Completed operation to stop {_WHERE}.",
    ),
    "START_SERVICE": (
        f"Started operation to start {_WHERE}.",
        "Starting cache cluster on {node}...",
        f"Completed operation to start {_WHERE}.",
    ),
    "SCALE_SERVICE": (
        f"Started operation to scale {_WHERE}.",
        "Resizing instance {node} to 2G...",
        "Rebalancing cache cluster on {node}...",
        f"Completed operation to scale {_WHERE}.",
    ),
    "BACKUP": (
        f"Started backup of {_WHERE}.",
        "Writing a snapshot of {node}...",
        "Snapshot of {node} stored.",
        f"Completed backup of {_WHERE}.",
    ),
    "RESTART_SERVICE": (
        f"Started operation to restart {_WHERE}.",
        "Stopping cache cluster on {node}...",
        "Starting cache cluster on {node}...",
        f"Completed operation to restart {_WHERE}.",
    ),
    "PATCH": (
        f"Started operation to patch {_WHERE}.",
        "Applying patch 2024.07 to {node}...",
        "Restarting {node}...",
        f"Completed operation to patch {_WHERE}.",
    ),
}
_STARTED_AFTER_MS = 45
_STEP_MS = 20_000
_ENDED_AFTER_MS = 30
_RUNNING_STEPS = 2  # a RUNNING job has written this many of its steps so far
OUTCOMES = ("SUCCEED", "FAILED", "RUNNING")


@dataclasses.dataclass(frozen=True, slots=True)
class SeedPlan:
    """The numbers every generated row is a function of (see the module's docstring)."""

    jobs: int
    domains: int = 1
    now: int = dataclasses.field(default_factory=now_ms)

    @property
    def instances(self) -> int:
        return math.ceil(self.jobs / JOBS_PER_INSTANCE)

    @property
    def first_start(self) -> int:
        return self.now - SPAN_DAYS * DAY_MS

    def last_job_of(self, instance: int) -> int:
        rounds = (self.jobs - 1 - instance) // self.instances
        return instance + 1 + rounds * self.instances

    def sample_jobs(self) -> tuple[int, int]:
        """A terminal `caching` create and a RUNNING `caching` job, from the middle."""
        middle = self.instances // 2
        caching = range(0, self.instances, len(SERVICE_TYPES))  # instances 0, 4, 8, ...
        terminal = min(caching, key=lambda i: abs(i - middle))
        running = min((i for i in caching if i % DELETED_EVERY != 0), key=lambda i: abs(i - middle))
        return terminal + 1, self.last_job_of(running)


# -- the shapes: small tables the big statements join ------------------------------------------


def operation_messages(operation_type: str, outcome: str) -> list[tuple[int, str]]:
    """(offset from the job's start in ms, text template) of each message, in order.

    Templates hold ``{name}``, ``{domain}`` and ``{node}``, which the SQL fills in per job.
    """
    steps = _STEPS[operation_type]
    if outcome == "RUNNING":
        steps = steps[:_RUNNING_STEPS]
    elif outcome == "FAILED":
        verb = steps[0].split(" ")[3] if steps[0].startswith("Started operation") else "back up"
        steps = (steps[0], f"Failed to {verb} {_WHERE}: {{node}} did not answer within 300 s.")
    timed = [(0, SUBMITTED_MESSAGE), (_STARTED_AFTER_MS, STARTED_MESSAGE)]
    timed += [(_STARTED_AFTER_MS + n * _STEP_MS, text) for n, text in enumerate(steps, start=1)]
    if outcome != "RUNNING":
        timed.append((timed[-1][0] + _ENDED_AFTER_MS, ENDED_MESSAGE))
    return timed


def message_rows() -> list[tuple[str, str, int, int, str]]:
    """Rows of seed_messages: operation, outcome, position, offset in ms, template."""
    return [
        (operation, outcome, position, offset, text)
        for operation in _STEPS
        for outcome in OUTCOMES
        for position, (offset, text) in enumerate(operation_messages(operation, outcome), 1)
    ]


MESSAGE_TABLE = (
    "CREATE TEMP TABLE seed_messages (operation_type TEXT, outcome TEXT, position INTEGER, "
    "offset_ms INTEGER, template TEXT, PRIMARY KEY (operation_type, outcome, position))"
)


# -- the big statements, for either dialect ----------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    numbers: str
    """A FROM item giving column ``n`` from {first} to {last}."""
    padded: str
    """The instance index ``{i}`` as seven digits."""
    message_order: str
    """How the messages' SELECT ends: SQLite makes them in key order for free."""


SQLITE = Dialect(
    numbers="(WITH RECURSIVE s(n) AS "
    "(SELECT {first} UNION ALL SELECT n + 1 FROM s WHERE n < {last}) SELECT n FROM s)",
    padded="printf('%07d', {i})",
    message_order="ORDER BY j.job_id, m.position",
)
POSTGRES = Dialect(
    numbers="(SELECT n::bigint AS n FROM generate_series({first}, {last}) AS n)",
    padded="lpad(({i})::text, 7, '0')",
    message_order="",  # jobs are read in job id order; a sort would spill to disk
)

# Small lookups are CASE expressions, not joins: PostgreSQL cannot estimate a join on a
# computed key, and nested-loops a million rows against each little table.
_INSERT_INSTANCES = """
INSERT INTO service_instances (service_id, domain_id, service_type, name, description, state,
    parameters, created_by, created_at, updated_at)
SELECT z.i + 1, {domain_id}, {service_type}, {prefix} || {padded}, '',
    CASE WHEN z.i % {deleted_every} = 0 THEN 'deleted'
         WHEN {last_operation} = 'START_SERVICE' THEN 'stopped'
         ELSE 'running' END,
    '{{"size": "1"}}', '{user}',
    {first_start} + z.i * {span} / {jobs},
    {first_start} + (z.i + z.last_round * {instances}) * {span} / {jobs}
FROM (SELECT n AS i, ({jobs} - 1 - n) / {instances} AS last_round FROM {numbers} AS numbers) z
"""

_INSERT_JOBS = """
INSERT INTO jobs (job_id, activity_log_id, domain_id, identity_domain, service_id, service_name,
    service_type, operation_type, status, auth_domain, auth_user, initiated_by, parameters,
    previous_instance_state, start_date, end_date, run_after, attempt, max_attempts,
    lease_token, lease_owner, lease_expires_at, message_count, version)
SELECT x.j, x.j, {domain_id}, {domain_name}, x.i + 1, {prefix} || {padded}, {service_type},
    x.op, x.status, {domain_name}, '{user}',
    CASE WHEN x.op IN {system_operations} THEN 'SYSTEM' ELSE 'USER' END,
    '{{"size": "1"}}',
    CASE x.op WHEN 'CREATE_SERVICE' THEN 'creating' WHEN 'START_SERVICE' THEN 'stopped'
              ELSE 'running' END,
    x.start_date,
    CASE WHEN x.status = 'RUNNING' THEN NULL ELSE x.start_date + {duration} END,
    x.start_date, 1, 1,
    CASE WHEN x.status = 'RUNNING' THEN 'seed' || x.j END,
    CASE WHEN x.status = 'RUNNING' THEN 'bench-seeding' END,
    CASE WHEN x.status = 'RUNNING' THEN {lease_expires_at} END,
    {message_count}, {message_count} - 1
FROM (
    SELECT z.*,
        CASE WHEN z.r = 0 THEN 'CREATE_SERVICE'
             WHEN z.is_last = 1 AND z.i % {deleted_every} = 0 THEN 'DELETE_SERVICE'
             ELSE {operation} END AS op,
        CASE WHEN z.is_last = 1 AND z.i % {deleted_every} <> 0 THEN 'RUNNING'
             WHEN z.r > 0 AND z.is_last = 0 AND z.j % {failed_every} = 0 THEN 'FAILED'
             ELSE 'SUCCEED' END AS status
    FROM (
        SELECT n + 1 AS j, n % {instances} AS i, n / {instances} AS r,
            CASE WHEN n + 1 + {instances} > {jobs} THEN 1 ELSE 0 END AS is_last,
            {first_start} + n * {span} / {jobs} AS start_date
        FROM {numbers} AS numbers
    ) z
) x
"""

_INSERT_MESSAGES = """
INSERT INTO job_messages (job_id, position, activity_date, message)
SELECT j.job_id, m.position, j.start_date + m.offset_ms,
    replace(replace(replace(m.template, '{{name}}', j.service_name),
        '{{domain}}', j.identity_domain),
        '{{node}}', lower(substr(j.service_name, 1, 10)) || '-'
            || lower(substr(j.service_type, 1, 4)) || '-1')
FROM jobs j
JOIN seed_messages m ON m.operation_type = j.operation_type AND m.outcome = j.status
WHERE j.job_id BETWEEN {first} AND {last}
{order}
"""


def seeding_statements(
    plan: SeedPlan, dialect: Dialect, domains: list[tuple[int, str]], parts: int = 1
) -> list[list[str]]:
    """The INSERT ... SELECT statements, in three steps (instances, jobs, messages) of
    ``parts`` statements each (one, for the instances), each over its own range of job ids:
    the statements of one step may run at once on as many connections. ``domains`` are the
    (id, name) of the identity domains, taken in turn by instance."""
    values: dict[str, object] = {
        "user": DEMO_USER,
        "jobs": plan.jobs,
        "instances": plan.instances,
        "span": SPAN_DAYS * DAY_MS,
        "first_start": plan.first_start,
        "lease_expires_at": plan.now + LEASE_DAYS * DAY_MS,
        "deleted_every": DELETED_EVERY,
        "failed_every": FAILED_EVERY,
        "system_operations": "(" + ", ".join(map(_literal, SYSTEM_OPERATIONS)) + ")",
    }
    instances = _INSERT_INSTANCES.format(
        **values,
        **_instance_lookups("z.i", domains),
        padded=dialect.padded.format(i="z.i"),
        last_operation=_case("(z.i + z.last_round - 1)", OPERATION_CYCLE),
        numbers=dialect.numbers.format(first=0, last=plan.instances - 1),
    )
    shapes = {f"{o}/{s}": operation_messages(o, s) for o in _STEPS for s in OUTCOMES}
    shape = "x.op || '/' || x.status"
    job_values = {
        **values,
        **_instance_lookups("x.i", domains),
        "padded": dialect.padded.format(i="x.i"),
        "operation": _case("(z.i + z.r - 1)", OPERATION_CYCLE),
        "message_count": _case(shape, {key: len(timed) for key, timed in shapes.items()}),
        "duration": _case(shape, {key: timed[-1][0] for key, timed in shapes.items()}),
    }
    ranges = [(plan.jobs * k // parts, plan.jobs * (k + 1) // parts - 1) for k in range(parts)]
    jobs = [
        _INSERT_JOBS.format(**job_values, numbers=dialect.numbers.format(first=first, last=last))
        for first, last in ranges
    ]
    messages = [
        _INSERT_MESSAGES.format(first=first + 1, last=last + 1, order=dialect.message_order)
        for first, last in ranges
    ]
    return [[instances], jobs, messages]


def _instance_lookups(instance: str, domains: list[tuple[int, str]]) -> dict[str, str]:
    """The instance's domain id and name, service type and name prefix, as SQL expressions."""
    return {
        "domain_id": _case(instance, [domain_id for domain_id, _ in domains]),
        "domain_name": _case(instance, [name for _, name in domains]),
        "service_type": _case(instance, [service_type for service_type, _ in SERVICE_TYPES]),
        "prefix": _case(instance, [prefix for _, prefix in SERVICE_TYPES]),
    }


def _case(key: str, values: Sequence[object] | dict[str, int]) -> str:
    """A CASE expression: ``values[key % len(values)]`` for a sequence, ``values[key]`` for
    a mapping."""
    if isinstance(values, dict):
        whens = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in values.items())
        return f"CASE {key} {whens} END"
    whens = " ".join(f"WHEN {k} THEN {_literal(v)}" for k, v in enumerate(values))
    return f"CASE ({key}) % {len(values)} {whens} END"


def _literal(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
