"""Console sessions live in the database: a session begun through one `activitylog serve` opens
pages through another on the same PostgreSQL database, and a signed-out one through neither;
a SQLite server restarted keeps its sessions."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.conftest import RunningServer, StartServer, stop_process

pytestmark = pytest.mark.e2e

DOMAIN = "ExampleIdentityDomain"
ADMIN = ("joe@example.com", "joePassword")
SESSION_COOKIE = "activitylog_console"


def sign_in(server: RunningServer) -> tuple[str, str]:
    """Sign in through the form, as a browser does: the session cookie's value, and the CSRF
    token of the signed-in pages."""
    with httpx.Client(base_url=server.url) as client:
        form = client.get("/console/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text
        fields = {"domain": DOMAIN, "user": ADMIN[0], "password": ADMIN[1]}
        answer = client.post("/console/sign-in", data={**fields, "csrf_token": token[1]})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/console/activity"
        session_id = answer.cookies[SESSION_COOKIE]
        page = client.get("/console/activity")  # the client's jar has the cookie now
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None, page.text
    return session_id, csrf[1]


def activity_page(server: RunningServer, session_id: str) -> httpx.Response:
    # A client of its own, without redirects: a signed-out request gets 303 to the sign-in form.
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: session_id}) as client:
        return client.get("/console/activity")


@pytest.mark.postgres
def test_a_session_begun_through_one_process_works_through_another(
    start_server: StartServer, postgres_url: str
) -> None:
    first, second = (
        start_server("--db", postgres_url, "--no-worker", "--demo", "--log-level", "warning")
        for _ in range(2)
    )
    session_id, csrf = sign_in(first)

    page = activity_page(second, session_id)
    assert page.status_code == 200, page.headers.get("location")
    assert "Activity" in page.text

    # Signed out through the second process: the first no longer knows the session either.
    with httpx.Client(base_url=second.url, cookies={SESSION_COOKIE: session_id}) as client:
        assert client.post("/console/sign-out", data={"csrf_token": csrf}).status_code == 303
    refused = activity_page(first, session_id)
    assert (refused.status_code, refused.headers["location"]) == (303, "/console/sign-in")


def test_a_restarted_sqlite_server_keeps_its_sessions(start_server: StartServer) -> None:
    arguments = ("--db", "console.db", "--demo", "--log-level", "warning")
    before = start_server(*arguments)
    session_id, _ = sign_in(before)
    stop_process(before.process)

    after = start_server(*arguments)
    page = activity_page(after, session_id)
    assert page.status_code == 200, page.headers.get("location")
    assert activity_page(after, "not-a-session").status_code == 303
