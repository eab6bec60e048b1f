"""The audit trail's vocabulary: the kinds of event recorded, and the query admins read it by."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from activitylog import errors
from activitylog.domain.dates import parse_filter_date
from activitylog.domain.search import DEFAULT_LIMIT, MAX_LIMIT, parse_whole_number

SIGN_IN_FAILED = "sign_in_failed"
"""Counted, not one row each: one row per (domain, claimed user, address, hour)."""
USER_CREATED = "user_created"
USER_CHANGED = "user_changed"
USER_DELETED = "user_deleted"
TOKEN_CREATED = "token_created"  # noqa: S105 - an event kind, not a secret
TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an event kind, not a secret
JOB_CANCELLED = "job_cancelled"
INSTANCE_DELETION_REQUESTED = "instance_deletion_requested"

KINDS = (
    SIGN_IN_FAILED,
    USER_CREATED,
    USER_CHANGED,
    USER_DELETED,
    TOKEN_CREATED,
    TOKEN_REVOKED,
    JOB_CANCELLED,
    INSTANCE_DELETION_REQUESTED,
)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def hour_of(epoch_ms: int) -> int:
    """The start of the hour ``epoch_ms`` falls in: the bucket counted events add up in."""
    return epoch_ms - epoch_ms % HOUR_MS


@dataclasses.dataclass(frozen=True, slots=True)
class AuditQuery:
    """Events of ``kind`` (any when None) that overlap [since_ms, until_ms], newest first."""

    kind: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_audit_query(params: Iterable[tuple[str, str]]) -> AuditQuery:
    """Validate ``kind``, ``from``, ``to``, ``limit`` and ``offset``; raise InvalidRequest
    listing every problem. Dates take the activity filter's formats."""
    given = dict(params)
    issues: list[str] = []
    kind = given.get("kind") or None
    if kind is not None and kind not in KINDS:
        issues.append(f"kind: unknown value {kind!r}; use one of {', '.join(KINDS)}")
    since = _date(given, "from", issues, end_of_day=False)
    until = _date(given, "to", issues, end_of_day=True)
    limit = _whole(given, "limit", DEFAULT_LIMIT, issues)
    offset = _whole(given, "offset", 0, issues)
    if issues:
        raise errors.InvalidRequest("The audit query is not valid.", issues)
    return AuditQuery(kind, since, until, min(limit, MAX_LIMIT), offset)


def _date(given: dict[str, str], name: str, issues: list[str], *, end_of_day: bool) -> int | None:
    text = given.get(name)
    if not text:
        return None
    try:
        epoch_ms = parse_filter_date(text)
    except (ValueError, OverflowError):
        issues.append(f"{name}: expected yyyy-MM-dd or yyyy-MM-dd'T'HH:mm:ss[.SSS][Z|+hhmm]")
        return None
    # A bare date as the upper bound covers that whole day, as in the activity filter.
    return epoch_ms + DAY_MS - 1 if end_of_day and len(text.strip()) == 10 else epoch_ms


def _whole(given: dict[str, str], name: str, default: int, issues: list[str]) -> int:
    text = given.get(name)
    if text is None or text == "":
        return default
    value = parse_whole_number(text)
    if value is None:
        issues.append(f"{name}: expected a whole number")
        return default
    return value
