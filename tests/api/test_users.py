"""PUT, GET and DELETE .../activitylog/{domain}/users: a domain's admins manage its users."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import OTHER_DOMAIN, OTHER_PASSWORD, OTHER_USER, ClientFor, store_of
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, PASSWORD, USER, add_tenant

pytestmark = pytest.mark.anyio

USERS = f"{JOB_PREFIX}/users"
PASSWORD_ISSUE = "password: expected a string of at least 8 characters"
ROLE_ISSUE = "role: expected one of viewer, operator, admin"
NAME_ISSUE = "name: expected 1 to 255 characters, no ':' and no control characters"


def _invalid(issues: list[str], message: str = "The user is not valid.") -> dict[str, Any]:
    return {"status": "400", "details": {"message": message, "issues": issues}}


async def test_admin_creates_lists_changes_and_deletes_users(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    created = await client.put(f"{USERS}/ops@example.com", json={"password": "opsPassword"})
    assert created.status_code == 201
    assert created.json() == {"name": "ops@example.com", "role": "viewer"}

    promoted = await client.put(f"{USERS}/ops@example.com", json={"role": "operator"})
    assert promoted.status_code == 200
    assert promoted.json() == {"name": "ops@example.com", "role": "operator"}

    listed = await client.get(USERS)
    assert listed.status_code == 200
    assert listed.json() == {
        "users": [
            {"name": USER, "role": "admin"},
            {"name": "ops@example.com", "role": "operator"},
        ]
    }

    ops = client_for(app, "ops@example.com", "opsPassword")
    created_cache = await ops.post(INSTANCES, json={"serviceParameters": {"serviceName": "Ops"}})
    assert created_cache.status_code == 202

    deleted = await client.delete(f"{USERS}/ops@example.com")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(USERS)).json() == {"users": [{"name": USER, "role": "admin"}]}


async def test_new_user_may_be_given_a_role(client: httpx.AsyncClient) -> None:
    response = await client.put(
        f"{USERS}/boss@example.com", json={"password": "bossPassword", "role": "admin"}
    )

    assert response.status_code == 201
    assert response.json() == {"name": "boss@example.com", "role": "admin"}


@pytest.mark.parametrize(
    ("name", "body", "issues"),
    [
        ("x@example.com", {"password": "short"}, [PASSWORD_ISSUE]),
        ("x@example.com", {"password": 12345678}, [PASSWORD_ISSUE]),
        ("x@example.com", {"password": "longEnough", "role": "root"}, [ROLE_ISSUE]),
        ("x@example.com", {"password": "short", "role": ["admin"]}, [PASSWORD_ISSUE, ROLE_ISSUE]),
        ("a:b", {"password": "longEnough"}, [NAME_ISSUE]),
        ("tab%09here", {"password": "longEnough"}, [NAME_ISSUE]),
        ("x" * 256, {"password": "longEnough"}, [NAME_ISSUE]),
    ],
)
async def test_invalid_user_is_400(
    client: httpx.AsyncClient, name: str, body: dict[str, Any], issues: list[str]
) -> None:
    response = await client.put(f"{USERS}/{name}", json=body)

    assert response.status_code == 400
    assert response.json() == _invalid(issues)
    assert (await client.get(USERS)).json() == {"users": [{"name": USER, "role": "admin"}]}


async def test_new_user_needs_a_password(client: httpx.AsyncClient) -> None:
    # Without a password the body can only change a user: a valid body, and no such user.
    response = await client.put(f"{USERS}/x@example.com", json={"role": "operator"})

    assert response.status_code == 404
    assert response.json()["details"]["message"] == (
        "No user [x@example.com] in identity domain [ExampleIdentityDomain]; a new user needs "
        "a password."
    )


async def test_user_body_must_be_a_json_object(client: httpx.AsyncClient) -> None:
    not_json = await client.put(
        f"{USERS}/x@example.com", content=b"password=x", headers={"Content-Type": "text/plain"}
    )
    array = await client.put(f"{USERS}/x@example.com", json=["longEnough"])

    assert not_json.status_code == 415
    assert array.status_code == 400
    assert array.json()["details"]["issues"] == ["body: expected an object"]


async def test_deleting_an_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{USERS}/nobody@example.com")

    assert response.status_code == 404
    assert response.json() == {
        "status": "404",
        "details": {"message": f"No user [nobody@example.com] in identity domain [{DOMAIN}]."},
    }


async def test_admin_sees_only_its_own_domain(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await add_tenant(store_of(app), OTHER_DOMAIN, OTHER_USER, OTHER_PASSWORD)
    other = client_for(app, OTHER_USER, OTHER_PASSWORD, tenant=OTHER_DOMAIN)

    deleting_joe = await other.delete(f"/paas/api/v1.1/activitylog/{OTHER_DOMAIN}/users/{USER}")

    assert deleting_joe.status_code == 404
    assert (await client.get(USERS)).json() == {"users": [{"name": USER, "role": "admin"}]}
    assert (await other.get(f"/paas/api/v1.1/activitylog/{OTHER_DOMAIN}/users")).json() == {
        "users": [{"name": OTHER_USER, "role": "admin"}]
    }


LAST_ADMIN = (
    f"User [{USER}] is the last admin of identity domain [{DOMAIN}]: give another user the "
    "admin role first, then retry."
)


@pytest.mark.parametrize(
    ("method", "body"),
    [("PUT", {"role": "operator"}), ("PUT", {"role": "viewer"}), ("DELETE", None)],
    ids=["demote to operator", "demote to viewer", "delete"],
)
async def test_the_last_admin_cannot_demote_or_remove_itself(
    client: httpx.AsyncClient, method: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, f"{USERS}/{USER}", json=body)

    assert response.status_code == 409
    assert response.json() == {"status": "409", "details": {"message": LAST_ADMIN}}
    assert (await client.get(USERS)).json() == {"users": [{"name": USER, "role": "admin"}]}


async def test_an_admin_may_step_down_once_another_is_admin(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await client.put(f"{USERS}/ann@example.com", json={"password": "annPassword", "role": "admin"})
    # A password change is no role change: the last admin may make one.
    keeps_password = await client.put(f"{USERS}/{USER}", json={"password": PASSWORD})
    ann = client_for(app, "ann@example.com", "annPassword")

    stepped_down = await client.put(f"{USERS}/{USER}", json={"role": "viewer"})
    refused = await ann.delete(f"{USERS}/ann@example.com")

    assert keeps_password.status_code == 200
    assert stepped_down.status_code == 200
    assert refused.status_code == 409
    assert "give another user the admin role first" in refused.json()["details"]["message"]


@pytest.mark.parametrize(
    ("name", "code_point"),
    [
        ("admin\u202egpj.exe", "U+202E"),  # RIGHT-TO-LEFT OVERRIDE
        ("\u202aann@example.com", "U+202A"),  # LEFT-TO-RIGHT EMBEDDING
        ("ann\u2066@example.com", "U+2066"),  # LEFT-TO-RIGHT ISOLATE
        ("ann\u2069", "U+2069"),  # POP DIRECTIONAL ISOLATE
        ("ann\u200f@example.com", "U+200F"),  # RIGHT-TO-LEFT MARK
        ("ann\u200e", "U+200E"),  # LEFT-TO-RIGHT MARK
        ("ann\u061c", "U+061C"),  # ARABIC LETTER MARK
    ],
    ids=repr,
)
async def test_a_user_name_with_a_bidi_control_is_400(
    client: httpx.AsyncClient, name: str, code_point: str
) -> None:
    response = await client.put(f"{USERS}/{name}", json={"password": "longEnough"})

    assert response.status_code == 400
    (issue,) = response.json()["details"]["issues"]
    assert issue.startswith("name: ")
    assert "bidirectional" in issue
    assert code_point in issue
    assert (await client.get(USERS)).json() == {"users": [{"name": USER, "role": "admin"}]}


async def test_a_user_name_in_another_script_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{USERS}/زهراء", json={"password": "longEnough"})

    assert response.status_code == 201


async def test_post_creates_a_user_and_never_changes_one(client: httpx.AsyncClient) -> None:
    body = {"name": "ops@example.com", "password": "opsPassword", "role": "operator"}
    created = await client.post(USERS, json=body)
    assert created.status_code == 201
    assert created.json() == {"name": "ops@example.com", "role": "operator"}

    again = await client.post(USERS, json={**body, "password": "otherPassword", "role": "admin"})
    assert again.status_code == 409
    assert again.json()["details"]["message"] == (
        f"User [ops@example.com] exists already in identity domain [{DOMAIN}]."
    )
    listed = (await client.get(USERS)).json()["users"]
    assert {"name": "ops@example.com", "role": "operator"} in listed


async def test_post_needs_a_name_and_a_password(client: httpx.AsyncClient) -> None:
    no_name = await client.post(USERS, json={"password": "opsPassword"})
    assert no_name.status_code == 400
    assert no_name.json()["details"]["issues"] == ["name: required, a string"]
    no_password = await client.post(USERS, json={"name": "ops@example.com"})
    assert no_password.status_code == 400
    assert no_password.json()["details"]["issues"] == ["password: required"]
