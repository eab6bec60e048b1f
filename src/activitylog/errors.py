"""Every error activitylog raises on purpose, and the HTTP status each one means.

    ActivityLogError
    ├── InvalidRequest              400  (carries `issues`, one string per problem)
    │   └── InvalidParameters       400  (a service type's parameters are wrong)
    ├── AuthenticationFailed        401
    ├── PermissionDenied            403
    ├── NotFound                    404
    │   ├── JobNotFound
    │   ├── ServiceTypeNotFound
    │   └── InstanceNotFound
    ├── MethodNotAllowed            405
    ├── Conflict                    409
    │   ├── OperationInFlight       (the instance already has a NEW or RUNNING job)
    │   ├── InstanceExists
    │   ├── OperationNotAllowed     (the instance's state forbids the operation)
    │   ├── JobAlreadyEnded         (a cancellation came after the job's end)
    │   └── LastAdmin               (the change would leave an identity domain no admin)
    ├── PayloadTooLarge             413
    ├── UnsupportedMediaType        415
    ├── IdempotencyKeyReused        422  (the Idempotency-Key came with a different request)
    ├── TooManyRequests             429  (too many streams or long-polls open; Retry-After)
    ├── TooManyAuthenticationFailures 429  (a failure limit or ban; its own Retry-After)
    ├── StoreUnavailable            503  (the database cannot be reached right now)
    ├── LeaseLost                   (internal: a worker's write was fenced off)
    ├── OperationFailed             (a handler's operation failed as operations may: a
    │   │                            command exiting non-zero; one log line, no traceback)
    │   └── OperationTimedOut       (a handler outran its operation's timeout)
    ├── InvalidConfiguration        (start-up: the configuration file or a plugin is wrong)
    └── CannotListen                (start-up: the address to serve on cannot be bound)
        └── AddressInUse            (another process listens on it)

Lower-layer errors (sqlite3, asyncpg) are translated once, at the store boundary, into
these classes and chained with ``raise ... from exc``. Each class's docstring is its default
message.
"""

from __future__ import annotations

from pathlib import Path


class ActivityLogError(Exception):
    """Something went wrong in activitylog."""

    status_code = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class InvalidRequest(ActivityLogError):
    """The request is not valid."""

    status_code = 400

    def __init__(self, message: str | None = None, issues: list[str] | None = None) -> None:
        super().__init__(message)
        self.issues = issues or []


class InvalidParameters(InvalidRequest):
    """The service parameters are not valid for this service type."""


class AuthenticationFailed(ActivityLogError):
    """Authentication failed: check the user name, the password and the identity domain."""

    status_code = 401


class PermissionDenied(ActivityLogError):
    """Your role does not allow this request."""

    status_code = 403


class NotFound(ActivityLogError):
    """The requested resource does not exist."""

    status_code = 404


class JobNotFound(NotFound):
    """No such job in this identity domain."""


class ServiceTypeNotFound(NotFound):
    """No such service type is configured."""


class InstanceNotFound(NotFound):
    """No such service instance in this identity domain."""


class MethodNotAllowed(ActivityLogError):
    """This method is not allowed on this resource."""

    status_code = 405


class Conflict(ActivityLogError):
    """The request conflicts with the current state of the resource."""

    status_code = 409


class OperationInFlight(Conflict):
    """Another operation on this service instance has not ended yet; wait for it, then retry."""


class InstanceExists(Conflict):
    """A service instance with this name already exists."""


class OperationNotAllowed(Conflict):
    """The service instance's current state does not allow this operation."""


class JobAlreadyEnded(Conflict):
    """The job has already ended."""


class LastAdmin(Conflict):
    """This user is the identity domain's last admin: give another user the admin role first."""


class PayloadTooLarge(ActivityLogError):
    """The request body is too large."""

    status_code = 413


class UnsupportedMediaType(ActivityLogError):
    """Send the body as application/json."""

    status_code = 415


class IdempotencyKeyReused(ActivityLogError):
    """This Idempotency-Key was already used, within 24 hours, for a different request."""

    status_code = 422


class TooManyRequests(ActivityLogError):
    """Too many requests are open at once; close one, or retry later."""

    status_code = 429
    retry_after_seconds = 5
    """What the answer's Retry-After says: long enough for an open request to end, short
    enough that a client which closed one gets its place back soon."""


class TooManyAuthenticationFailures(ActivityLogError):
    """Too many failed authentications; retry after the Retry-After seconds."""

    status_code = 429

    def __init__(self, message: str | None = None, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        # What the answer's Retry-After says: until the ban ends, or the checks under way do.
        self.retry_after_seconds = retry_after_seconds


class StoreUnavailable(ActivityLogError):
    """The database is unavailable right now; retry shortly."""

    status_code = 503


class LeaseLost(ActivityLogError):
    """This worker no longer holds the job's lease; its writes are refused."""

    status_code = 409


class OperationFailed(ActivityLogError):
    """The operation failed."""

    def __init__(self, message: str | None = None, **log_fields: object) -> None:
        """``log_fields``: what the worker's one log line about the failure says besides the
        job id and the message (an exit status, the last line of output)."""
        super().__init__(message)
        self.log_fields = log_fields


class OperationTimedOut(OperationFailed):
    """The operation did not finish within its timeout."""


class InvalidConfiguration(ActivityLogError):
    """The configuration is not valid."""

    def __init__(self, source: str | Path, key: str | None, problem: str) -> None:
        """``source``: the file (or plugin); ``key``: the key path, e.g. ``service_types.x``."""
        where = f"{source}: {key}" if key else str(source)
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


class CannotListen(ActivityLogError):
    """The server cannot listen on this address."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port


class AddressInUse(CannotListen):
    """Another process already listens on this address."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            host,
            port,
            f"port {port} is already in use. Another process (another activitylog serve?) "
            "listens on it: stop it or choose another --port; to share the port with it on "
            "purpose, pass --reuse-port",
        )
