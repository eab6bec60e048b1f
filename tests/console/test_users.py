"""The console's Users page in process: only admins see it and only admins' forms change
anything (CSRF token and role checked on every action); the API's checks and messages show
on the page with the typed values kept; each change is audited as the API's is, and ends the
changed user's console sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import DOMAIN, FAST_HASHER, JOB_PREFIX, PASSWORD, USER, add_tenant
from tests.console.test_console_http import csrf_token, sign_in

pytestmark = pytest.mark.anyio

OPERATOR = ("otto@example.com", "ottoPassword")
VIEWER = ("vera@example.com", "veraPassword")
ACTIONS = {
    "/console/users": {"name": "new@example.com", "password": "newPassword", "role": "viewer"},
    "/console/users/role": {"name": VIEWER[0], "role": "admin"},
    "/console/users/password": {"name": VIEWER[0], "password": "changedPassword"},
    "/console/users/remove": {"name": VIEWER[0]},
}
USER_CHANGES = ("user_created", "user_changed", "user_deleted")
SignedIn = Callable[[tuple[str, str]], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def signed_in(app: Starlette) -> AsyncIterator[SignedIn]:
    """Signs a fresh cookie-keeping client in as (user, password); an operator and a viewer
    exist besides the admin."""
    store = app.state.context.store
    for (name, password), role in ((OPERATOR, "operator"), (VIEWER, "viewer")):
        await add_tenant(store, user=name, password=password, role=role)
    async with AsyncExitStack() as clients:

        async def sign_in_as(user: tuple[str, str]) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            await clients.enter_async_context(http)
            assert (await sign_in(http, user[1], user[0])).status_code == 303
            return http

        yield sign_in_as


async def users_of(client: httpx.AsyncClient) -> dict[str, str]:
    """The domain's users and their roles, as the API lists them."""
    answer = await client.get(f"{JOB_PREFIX}/users")
    return {user["name"]: user["role"] for user in answer.json()["users"]}


async def audit_events(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    """The domain's user changes in its audit trail, newest first."""
    events = (await client.get(f"{JOB_PREFIX}/audit")).json()["events"]
    return [(e["kind"], e["subject"], e["details"]) for e in events if e["kind"] in USER_CHANGES]


async def test_only_admins_see_the_users_link_and_page(signed_in: SignedIn) -> None:
    admin = await signed_in((USER, PASSWORD))
    page = await admin.get("/console/users")
    assert page.status_code == 200
    assert 'href="/console/users"' in page.text
    assert VIEWER[0] in page.text
    assert OPERATOR[0] in page.text
    for user in (OPERATOR, VIEWER):
        other = await signed_in(user)
        assert 'href="/console/users"' not in (await other.get("/console/activity")).text
        refused = await other.get("/console/users")
        assert refused.status_code == 403
        assert "needs the admin role" in refused.text
        assert VIEWER[0] not in refused.text.split("</header>", 1)[1]
        assert 'href="/console/activity"' in refused.text


@pytest.mark.parametrize("user", [OPERATOR, VIEWER])
async def test_every_action_is_refused_to_a_non_admin_with_a_valid_token(
    signed_in: SignedIn, client: httpx.AsyncClient, user: tuple[str, str]
) -> None:
    other = await signed_in(user)
    token = csrf_token((await other.get("/console/activity")).text)
    before = await users_of(client)
    for path, fields in ACTIONS.items():
        refused = await other.post(path, data={**fields, "csrf_token": token})
        assert refused.status_code == 403, path
        assert "needs the admin role" in refused.text
    assert await users_of(client) == before
    assert await audit_events(client) == []


async def test_every_action_without_the_csrf_token_is_refused(
    signed_in: SignedIn, client: httpx.AsyncClient
) -> None:
    admin = await signed_in((USER, PASSWORD))
    before = await users_of(client)
    for path, fields in ACTIONS.items():
        for token in ({}, {"csrf_token": "guessed"}):
            refused = await admin.post(path, data={**fields, **token})
            assert refused.status_code == 403, path
            assert "The form has expired" in refused.text
    assert await users_of(client) == before


async def test_a_signed_out_browser_changes_nothing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anyone:
        assert (await anyone.get("/console/users")).status_code == 303
        for path, fields in ACTIONS.items():
            assert (await anyone.post(path, data=fields)).status_code == 403
    assert await audit_events(client) == []


@pytest.mark.parametrize(
    ("fields", "status", "shown"),
    [
        (
            {"name": "weak@example.com", "password": "short", "role": "operator"},
            400,
            "The user is not valid: password: expected a string of at least 8 characters.",
        ),
        (
            {"name": "root@example.com", "password": "longEnough", "role": "root"},
            400,
            "The user is not valid: role: expected one of viewer, operator, admin.",
        ),
        (
            {"name": "a:b", "password": "longEnough", "role": "operator"},
            400,
            "The user is not valid: name: expected 1 to 255 characters, no &#39;:&#39;",
        ),
        (
            {"name": VIEWER[0], "password": "longEnough", "role": "operator"},
            409,
            f"User [{VIEWER[0]}] exists already in identity domain [{DOMAIN}].",
        ),
    ],
)
async def test_a_refused_addition_shows_the_apis_message_and_keeps_what_was_typed(
    signed_in: SignedIn,
    client: httpx.AsyncClient,
    fields: dict[str, str],
    status: int,
    shown: str,
) -> None:
    admin = await signed_in((USER, PASSWORD))
    before = await users_of(client)
    token = csrf_token((await admin.get("/console/users")).text)
    page = await admin.post("/console/users", data={**fields, "csrf_token": token})
    assert page.status_code == status
    assert shown in page.text
    assert "try again" in page.text or "Choose another name" in page.text
    assert f'id="new-name" name="name" value="{fields["name"]}"' in page.text
    if fields["role"] == "operator":
        assert '<option value="operator" selected>' in page.text.split('id="new-role"')[1]
    assert fields["password"] not in page.text
    assert await users_of(client) == before


async def test_the_last_admin_can_neither_step_down_nor_leave(
    signed_in: SignedIn, client: httpx.AsyncClient
) -> None:
    admin = await signed_in((USER, PASSWORD))
    token = csrf_token((await admin.get("/console/users")).text)
    for path, extra in (
        ("/console/users/role", {"role": "operator"}),
        ("/console/users/remove", {}),
    ):
        page = await admin.post(path, data={"name": USER, "csrf_token": token, **extra})
        assert page.status_code == 409
        assert "is the last admin of identity domain" in page.text
        assert "give another user the admin role first" in page.text
    assert (await users_of(client))[USER] == "admin"
    assert (await admin.get("/console/users")).status_code == 200  # still signed in


async def test_a_change_to_a_user_who_is_gone_says_so(
    signed_in: SignedIn, client: httpx.AsyncClient
) -> None:
    admin = await signed_in((USER, PASSWORD))
    token = csrf_token((await admin.get("/console/users")).text)
    for path, extra in ACTIONS.items():
        if path == "/console/users":
            continue
        page = await admin.post(
            path, data={**extra, "name": "gone@example.com", "csrf_token": token}
        )
        assert page.status_code == 404, path
        assert f"No user [gone@example.com] in identity domain [{DOMAIN}]." in page.text
        assert "the list below is current" in page.text


async def test_an_admin_adds_changes_resets_and_removes_as_the_api_does(
    signed_in: SignedIn, client: httpx.AsyncClient
) -> None:
    admin = await signed_in((USER, PASSWORD))
    token = csrf_token((await admin.get("/console/users")).text)
    name = "new@example.com"

    added = await admin.post(
        "/console/users",
        data={"name": name, "password": "newPassword", "role": "viewer", "csrf_token": token},
    )
    assert added.status_code == 303
    listed = await admin.get(added.headers["location"])
    assert f"Added {name}; they can sign in now." in listed.text
    newcomer = await signed_in((name, "newPassword"))
    assert (await newcomer.get("/console/activity")).status_code == 200

    changed = await admin.post(
        "/console/users/role", data={"name": name, "role": "operator", "csrf_token": token}
    )
    assert changed.status_code == 303
    assert (await users_of(client))[name] == "operator"
    assert (await newcomer.get("/console/activity")).status_code == 303  # signed out

    newcomer = await signed_in((name, "newPassword"))
    reset = await admin.post(
        "/console/users/password",
        data={"name": name, "password": "resetPassword", "csrf_token": token},
    )
    assert reset.status_code == 303
    assert (await newcomer.get("/console/activity")).status_code == 303  # signed out
    assert (await sign_in(newcomer, "newPassword", name)).status_code == 401
    assert (await sign_in(newcomer, "resetPassword", name)).status_code == 303

    removed = await admin.post("/console/users/remove", data={"name": name, "csrf_token": token})
    assert removed.status_code == 303
    assert name not in await users_of(client)
    assert (await newcomer.get("/console/activity")).status_code == 303

    assert await audit_events(client) == [
        ("user_deleted", name, {}),
        ("user_changed", name, {"role": "operator", "passwordChanged": True}),
        ("user_changed", name, {"role": "operator", "passwordChanged": False}),
        ("user_created", name, {"role": "viewer"}),
    ]


async def test_an_admin_resetting_its_own_password_signs_in_again_with_it(
    signed_in: SignedIn,
) -> None:
    here, elsewhere = await signed_in((USER, PASSWORD)), await signed_in((USER, PASSWORD))
    token = csrf_token((await here.get("/console/users")).text)
    reset = await here.post(
        "/console/users/password",
        data={"name": USER, "password": "anotherPassword", "csrf_token": token},
    )
    assert reset.status_code == 303
    assert (await here.get(reset.headers["location"])).status_code == 303  # to the sign-in form
    assert (await elsewhere.get("/console/users")).status_code == 303
    assert (await sign_in(here, "anotherPassword")).status_code == 303


async def test_users_come_fifty_a_page_and_a_page_of_the_longest_names_stays_small(
    app: Starlette, signed_in: SignedIn
) -> None:
    store = app.state.context.store
    names = [f"{i:03d}" + "x" * 252 for i in range(60)]  # 255 characters, the longest allowed
    for name in names:
        await store.create_user(DOMAIN, name, FAST_HASHER.hash("x" * 8), "viewer")
    admin = await signed_in((USER, PASSWORD))
    first = await admin.get("/console/users")
    assert first.text.count('<tr id="user-') == 50
    assert len(first.content) < 200_000
    assert "63 users" in first.text
    assert 'href="/console/users?offset=50">Next' in first.text
    assert "Previous" not in first.text
    rest = await admin.get("/console/users?offset=50")
    assert rest.text.count('<tr id="user-') == 13
    assert 'href="/console/users?offset=0">Previous' in rest.text
    assert names[50] in rest.text
    assert names[49] not in rest.text
