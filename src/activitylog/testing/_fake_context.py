"""FakeJobContext: the context a handler gets, without a store or a worker, for its unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from activitylog.engine.handlers import JobContext
from activitylog.store.records import ClaimedJob


class _RecordedActivity:
    """Keeps in memory what a worker's store would write durably (an ActivityWriter)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.progress_reports: list[int] = []

    async def append_message(self, job: ClaimedJob, text: str) -> None:
        self.messages.append(text)

    async def set_progress(self, job: ClaimedJob, percent: int) -> None:
        self.progress_reports.append(percent)


class FakeJobContext(JobContext):
    """A JobContext for a handler's unit tests: the job is made up, and what the handler
    reports is kept in memory for the test to read::

        context = FakeJobContext(operation_type="BACKUP", parameters={"size": "2"})
        await back_up(context)
        assert context.messages == ["Backed up 2G."]

    It is a JobContext (only where the reports go differs), so a handler takes it as it is and
    the rules are the real ones: ``progress`` takes 0 to 100, ``warn`` sets ``final_status``
    and ``closing_messages``, ``cancel_requested`` is the same Event. What the worker does
    around a handler (timeouts, the cancel grace period, the job's final status) is not here:
    a cancelled job ends FAILED, ``Cancelled by <user>.``, whatever its handler then returns.
    """

    def __init__(
        self,
        *,
        operation_type: str = "CREATE_SERVICE",
        service_name: str = "MyService",
        service_type: str = "example",
        identity_domain: str = "ExampleIdentityDomain",
        parameters: Mapping[str, Any] | None = None,
        job_id: int = 1,
        attempt: int = 1,
    ) -> None:
        self._recorded = _RecordedActivity()
        job = ClaimedJob(
            job_id=job_id,
            attempt=attempt,
            lease_token="fake-job-context",  # noqa: S106 - fences nothing: no store
            service_id=1,
            service_name=service_name,
            service_type=service_type,
            identity_domain=identity_domain,
            operation_type=operation_type,
            parameters=dict(parameters or {}),
        )
        super().__init__(self._recorded, job)
        self._cancel_after: tuple[int, str] | None = None

    @property
    def messages(self) -> list[str]:
        """The messages the handler logged, in order: what the job's activity log would show
        between ``Activity Started`` and the closing messages."""
        return list(self._recorded.messages)

    @property
    def progress_reports(self) -> list[int]:
        """Each progress the handler reported, in order, as the store would be told: a report
        of the current percentage again is not written again. ``percent_complete`` is the
        last."""
        return list(self._recorded.progress_reports)

    def request_cancel(self, requested_by: str = "joe@example.com") -> None:
        """Someone cancels the job now: ``cancel_requested`` is set and ``cancel_requested_by``
        names them, as the worker does when it learns of it. A second request changes nothing,
        as in a worker."""
        if not self.cancel_requested.is_set():
            self.note_cancel_request(requested_by)

    def request_cancel_after(self, messages: int, requested_by: str = "joe@example.com") -> None:
        """Someone cancels the job once the handler has logged ``messages`` messages: a
        cancellation mid-run, at the step the test chooses, without racing the handler."""
        self._cancel_after = (messages, requested_by)
        self._cancel_if_due()

    async def log(self, message: str) -> None:
        await super().log(message)
        self._cancel_if_due()

    def _cancel_if_due(self) -> None:
        if self._cancel_after is not None and len(self._recorded.messages) >= self._cancel_after[0]:
            self.request_cancel(self._cancel_after[1])
