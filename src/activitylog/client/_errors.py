"""Every error the client raises, and which answer or failure each one stands for.

    ClientError
    ├── TransportError            the request did not get an answer (chained from httpx)
    ├── ApiError                  the server answered with an error status
    │   ├── BadRequest            400  (``issues`` lists each problem)
    │   ├── Unauthorized          401
    │   ├── Forbidden             403
    │   ├── NotFound              404
    │   ├── Conflict              409  (e.g. another operation on the instance is in flight)
    │   ├── TooManyRequests       429  (still refused after the retries Retry-After allowed)
    │   └── ServerError           5xx
    │       └── ServiceUnavailable  503  (likewise, after the retries)
    ├── UnexpectedResponse        a success status whose body breaks the wire contract
    ├── InvalidJobUrl             a URL that is not an activity-log job URL (also a ValueError)
    └── WaitTimeout               the job had not ended when the wait's timeout ran out

Each class's docstring is its default message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from activitylog.client._models import Job


class ClientError(Exception):
    """The activitylog client failed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class TransportError(ClientError):
    """The request got no answer from the server."""


class ApiError(ClientError):
    """The server answered with an error."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int,
        issues: tuple[str, ...] = (),
        ecid: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.issues = issues
        # X-ORACLE-DMS-ECID: quote it to the server's operators, it finds the request in their log
        self.ecid = ecid

    def __str__(self) -> str:
        lines = [f"{self.status_code}: {self.message}", *(f"  - {i}" for i in self.issues)]
        return "\n".join(lines)


class BadRequest(ApiError):
    """The server refused the request as invalid."""


class Unauthorized(ApiError):
    """Authentication failed: check the user name, the password and the identity domain."""


class Forbidden(ApiError):
    """The user's role does not allow this request."""


class NotFound(ApiError):
    """No such job, service instance or service type in this identity domain."""


class Conflict(ApiError):
    """The request conflicts with the current state of the service instance."""


class TooManyRequests(ApiError):
    """The server is rate-limiting these requests."""


class ServerError(ApiError):
    """The server failed to answer the request."""


class ServiceUnavailable(ServerError):
    """The server is unavailable right now."""


class UnexpectedResponse(ClientError):
    """The server's answer does not follow the activity-log wire contract."""


class InvalidJobUrl(ClientError, ValueError):
    """Expected a job URL ending in /paas/api/v1.1/activitylog/{domain}/job/{jobId}."""


class WaitTimeout(ClientError):
    """The job had not ended when the wait timed out."""

    def __init__(self, message: str | None = None, *, job: Job | None) -> None:
        super().__init__(message)
        self.job = job


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def api_error_class(status_code: int) -> type[ApiError]:
    """The most specific ApiError class for an HTTP error status."""
    if status_code in _ERRORS_BY_STATUS:
        return _ERRORS_BY_STATUS[status_code]
    return ServerError if status_code >= 500 else ApiError
