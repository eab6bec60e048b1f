"""The blocking Client and Poller against a real server: submit, poll, wait, follow, search."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from activitylog.client import (
    BadRequest,
    Client,
    Conflict,
    InvalidJobUrl,
    NotFound,
    Poller,
    Submission,
    TransportError,
    Unauthorized,
    WaitTimeout,
)
from tests.client.conftest import DOMAIN, PASSWORD, POLL_INTERVAL, USER
from tests.e2e.conftest import RunningServer, free_port

pytestmark = pytest.mark.e2e
NameFactory = Callable[[], str]


def test_create_then_get_and_wait(client: Client, server: RunningServer) -> None:
    submission = client.create("caching", "MyCache", size="2")
    assert submission.location == f"{server.url}/paas/api/v1.1/activitylog/{DOMAIN}/job/1"
    assert submission.message == (
        f"Submitted job to create service [MyCache] in domain [{DOMAIN}]."
    )
    job = client.get_job(submission.job_id)
    assert (job.job_id, job.service_name, job.service_type) == (1, "MyCache", "caching")
    assert job.operation_type == "CREATE_SERVICE"
    assert job.messages[0].text == "Activity Submitted"

    ended = client.wait(submission.job_id, timeout=30, poll_interval=0.01)
    assert ended.status == "SUCCEED"
    assert ended.ended
    assert ended.end_date is not None
    assert ended.start_date <= ended.end_date
    assert ended.start_date.tzinfo is not None
    assert ended.elapsed() == ended.end_date - ended.start_date
    assert ended.messages[-1].text == "Activity Ended"
    assert client.get_job(submission.job_id) == ended


def test_follow_yields_every_message_once_in_order(client: Client) -> None:
    submission = client.create("caching", "Followed")
    followed = list(client.follow(submission.job_id, timeout=30))
    ended = client.get_job(submission.job_id)
    assert ended.status == "SUCCEED"
    assert followed == list(ended.messages)
    assert len(followed) == 8
    texts = [message.text for message in followed]
    assert texts[:2] == ["Activity Submitted", "Activity Started"]
    assert texts[-1] == "Activity Ended"
    dates = [message.date for message in followed]
    assert dates == sorted(dates)


def test_follow_since_skips_messages_already_seen(client: Client) -> None:
    submission = client.create("caching", "Resumed")
    client.wait(submission.job_id, timeout=30)
    everything = list(client.follow(submission.job_id))
    assert list(client.follow(submission.job_id, since=5)) == everything[5:]


def test_watch_reports_each_change_until_the_end(client: Client) -> None:
    submission = client.create("caching", "Watched")
    updates = list(client.watch(submission.job_id, timeout=30))
    assert updates[-1].job.status == "SUCCEED"
    assert all(not update.job.ended for update in updates[:-1])
    collected = [message for update in updates for message in update.new_messages]
    assert collected == list(updates[-1].job.messages)


def test_operations_on_one_instance(client: Client) -> None:
    steps: list[tuple[Callable[[], Submission], str]] = [
        (lambda: client.create("caching", "Ops", size=1), "CREATE_SERVICE"),
        (lambda: client.scale("caching", "Ops", 4), "SCALE_SERVICE"),
        (lambda: client.stop("caching", "Ops"), "STOP_SERVICE"),
        (lambda: client.start("caching", "Ops"), "START_SERVICE"),
        (lambda: client.restart("caching", "Ops"), "RESTART_SERVICE"),
        (lambda: client.delete("caching", "Ops"), "DELETE_SERVICE"),
    ]
    for submit, operation_type in steps:
        job = client.wait(submit().job_id, timeout=30)
        assert (job.operation_type, job.status) == (operation_type, "SUCCEED")
    scaled = client.activity_page(operation_type="SCALE_SERVICE").jobs[0]
    assert any("to 4G" in message.text for message in scaled.messages)


def test_activities_pages_through_every_match(client: Client, service_name: NameFactory) -> None:
    submitted = [client.create("caching", service_name()).job_id for _ in range(5)]
    for job_id in submitted:
        client.wait(job_id, timeout=30)

    page = client.activity_page(limit=2, offset=0, order_by="jobId:asc")
    assert (page.total_count, [j.job_id for j in page.jobs]) == (5, submitted[:2])
    assert page.has_more
    walked = [job.job_id for job in client.activities(page_size=2, order_by="jobId:asc")]
    assert walked == submitted
    window = client.activities(offset=1, limit=3, page_size=2, order_by="jobId:asc")
    assert [job.job_id for job in window] == submitted[1:4]


def test_activities_filters(client: Client) -> None:
    client.wait(client.create("caching", "Kept").job_id, timeout=30)
    client.wait(client.create("caching", "Other").job_id, timeout=30)
    client.wait(client.stop("caching", "Kept").job_id, timeout=30)

    kept = list(client.activities(service_name="Kept"))
    assert {job.operation_type for job in kept} == {"CREATE_SERVICE", "STOP_SERVICE"}
    stops = client.activity_page(operation_type=["STOP_SERVICE"], status=["SUCCEED", "FAILED"])
    assert [job.service_name for job in stops.jobs] == ["Kept"]
    today = dt.datetime.now(dt.UTC).date()
    assert client.activity_page(from_start_date=today).total_count == 3
    tomorrow = today + dt.timedelta(days=1)
    assert client.activity_page(from_start_date=tomorrow).total_count == 0
    assert client.activity_page(to_start_date=dt.datetime.now(dt.UTC)).total_count == 3
    assert (
        client.activity_page(service_type="caching", order_by="serviceName:asc")
        .jobs[0]
        .service_name
        == "Kept"
    )


def test_poller_rebuilt_from_the_job_url_alone(client: Client) -> None:
    submission = client.create("caching", "Restarted")
    with Poller.from_url(
        submission.location, user=USER, password=PASSWORD, poll_interval=POLL_INTERVAL
    ) as poller:
        assert poller.job_id == submission.job_id
        assert poller.url == submission.location
        assert poller.job is None
        assert poller.poll().job_id == submission.job_id
        ended = poller.wait(timeout=30)
    assert ended.status == "SUCCEED"
    assert client.job_from_url(submission.location).wait(timeout=30) == ended


def test_invalid_job_url() -> None:
    with pytest.raises(InvalidJobUrl):
        Poller.from_url("http://example.com/not/a/job", user=USER, password=PASSWORD)
    with pytest.raises(ValueError, match="job URL"):
        Poller.from_url("/paas/api/v1.1/activitylog/D/job/1", user=USER, password=PASSWORD)


def test_not_found(client: Client) -> None:
    with pytest.raises(NotFound) as caught:
        client.get_job(424242)
    assert caught.value.status_code == 404
    assert caught.value.message == f"No job [424242] in identity domain [{DOMAIN}]."
    assert caught.value.ecid
    with pytest.raises(NotFound):
        client.wait(424242)
    with pytest.raises(NotFound):
        client.create("no-such-type", "Anything")


def test_conflict_while_an_operation_is_in_flight(client: Client) -> None:
    client.create("caching", "Busy")
    with pytest.raises(Conflict) as caught:
        client.scale("caching", "Busy", 2)
    assert caught.value.status_code == 409
    assert "Busy" in caught.value.message


def test_bad_request_carries_the_issues(client: Client) -> None:
    with pytest.raises(BadRequest) as caught:
        client.create("caching", "TooBig", size="999")
    assert caught.value.status_code == 400
    assert any("size" in issue for issue in caught.value.issues)
    assert "size" in str(caught.value)


def test_unauthorized(server: RunningServer) -> None:
    with (
        Client(
            server.url, user=USER, password="wrong-password", identity_domain=DOMAIN
        ) as intruder,
        pytest.raises(Unauthorized) as caught,
    ):
        intruder.get_job(1)
    assert caught.value.status_code == 401


def test_wait_timeout_carries_the_last_job_seen(client: Client) -> None:
    submission = client.create("caching", "Slow")
    with pytest.raises(WaitTimeout) as caught:
        client.wait(submission.job_id, timeout=0.05)
    assert caught.value.job is not None
    assert caught.value.job.job_id == submission.job_id
    assert not caught.value.job.ended


def test_transport_errors_are_chained() -> None:
    with (
        Client(
            f"http://127.0.0.1:{free_port()}", user=USER, password=PASSWORD, identity_domain=DOMAIN
        ) as nowhere,
        pytest.raises(TransportError) as caught,
    ):
        nowhere.get_job(1)
    assert caught.value.__cause__ is not None
