"""A handler and its unit tests, with activitylog.testing.FakeJobContext: run it with pytest."""

import asyncio

from activitylog.engine.handlers import JobContext
from activitylog.testing import FakeJobContext


async def back_up(context: JobContext) -> None:
    await context.log(f"Backing up service [{context.service_name}].")
    for part in range(1, 5):
        if context.cancel_requested.is_set():
            await context.log("Backup stopped; the partial copy was removed.")
            return
        await asyncio.sleep(0)  # copy a quarter of the data
        await context.log(f"Copied part {part} of 4.")
        await context.progress(part * 25)


def test_back_up_copies_in_four_parts() -> None:
    context = FakeJobContext(operation_type="BACKUP", service_name="MyCache")

    asyncio.run(back_up(context))

    assert context.messages[0] == "Backing up service [MyCache]."
    assert context.messages[-1] == "Copied part 4 of 4."
    assert context.progress_reports == [25, 50, 75, 100]


def test_back_up_stops_when_the_job_is_cancelled() -> None:
    context = FakeJobContext(operation_type="BACKUP", service_name="MyCache")
    context.request_cancel_after(messages=3)  # once part 2 is copied

    asyncio.run(back_up(context))

    assert context.messages[-1] == "Backup stopped; the partial copy was removed."
    assert context.progress_reports == [25, 50]
