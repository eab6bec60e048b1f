"""What the client hands back: jobs, their messages, submissions and pages of activity."""

from __future__ import annotations

import datetime as dt

import msgspec

FINAL_STATUSES = frozenset({"SUCCEED", "FAILED", "WARN"})


class ActivityMessage(msgspec.Struct, frozen=True):
    """One line of a job's activity log."""

    date: dt.datetime
    text: str


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A job as the activity log reports it; ``end_date`` is None until it ends."""

    job_id: int
    activity_log_id: int
    status: str
    service_name: str
    service_type: str
    operation_type: str
    start_date: dt.datetime
    end_date: dt.datetime | None = None
    messages: tuple[ActivityMessage, ...] = ()
    percent_complete: int | None = None
    identity_domain: str = ""
    service_id: int = 0
    summary_message: str = ""
    auth_domain: str = ""
    auth_user: str = ""
    initiated_by: str = ""

    @property
    def ended(self) -> bool:
        """True once the status is final: SUCCEED, FAILED or WARN."""
        return self.status in FINAL_STATUSES

    def elapsed(self, now: dt.datetime | None = None) -> dt.timedelta:
        """Time from submission to the end, or to ``now`` while the job runs."""
        until = self.end_date or now or dt.datetime.now(dt.UTC)
        return max(until - self.start_date, dt.timedelta(0))


class JobUpdate(msgspec.Struct, frozen=True):
    """A change seen while watching a job: the job now, and the messages new since last time."""

    job: Job
    new_messages: tuple[ActivityMessage, ...]


class Submission(msgspec.Struct, frozen=True):
    """The server's 202 answer to an operation: the job to poll, and where."""

    job_id: int
    location: str
    message: str


class ActivityPage(msgspec.Struct, frozen=True):
    """One page of a search: ``total_count`` counts every match, before paging."""

    jobs: tuple[Job, ...]
    total_count: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return bool(self.jobs) and self.offset + len(self.jobs) < self.total_count


class ApiToken(msgspec.Struct, frozen=True, kw_only=True):
    """A personal API token. ``secret`` is set only on the token just created: the server
    shows it that once, and keeps only its hash."""

    token_id: int
    name: str
    user: str
    role: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None = None
    secret: str | None = None


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    """A service instance as the server describes it: ``state`` in activitylog's words,
    ``status`` in PSM's; both as the server sends them."""

    service_id: int
    service_name: str
    service_type: str
    state: str
    status: str = ""
    identity_domain: str = ""
    description: str = ""
    creator: str = ""
    creation_date: dt.datetime | None = None
    last_modified_date: dt.datetime | None = None
    service_parameters: dict[str, object] = msgspec.field(default_factory=dict)


class User(msgspec.Struct, frozen=True):
    """A user of the identity domain, and its role: ``viewer``, ``operator`` or ``admin``."""

    name: str
    role: str
