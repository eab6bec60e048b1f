"""Service parameters declared in activitylog.toml: checked at submission, published in
/openapi.json per service type, only for the operations it offers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import jsonschema_rs
import pytest

from activitylog import errors
from activitylog.engine.service_types_config import load_config
from activitylog.serving import create_app
from activitylog.settings import Settings
from tests.api.conftest import store_of
from tests.conftest import DOMAIN, PASSWORD, USER, add_tenant, basic_auth

pytestmark = pytest.mark.anyio

CONFIG = """
[service_types.jaas]
handler = "command"
command = ["true"]

[service_types.jaas.parameters.shape]
type = "string"
enum = ["VM.Standard2.1", "VM.Standard2.2"]
required_for = ["CREATE_SERVICE", "SCALE_SERVICE"]

[service_types.jaas.parameters.managedServers]
type = "integer"
minimum = 1
maximum = 8

[service_types.jaas.parameters.useIdentityService]
type = "boolean"

[service_types.jaas.operations.CREATE_SERVICE]
[service_types.jaas.operations.SCALE_SERVICE]
"""
INSTANCES = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/jaas/instances"


async def test_declared_parameters_are_checked_and_published(
    tmp_path: Path, sqlite_path: str
) -> None:
    config = tmp_path / "activitylog.toml"
    config.write_text(textwrap.dedent(CONFIG))
    app = create_app(Settings(db=sqlite_path, config=str(config), run_worker=False))
    async with app.router.lifespan_context(app):
        await add_tenant(store_of(app))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": basic_auth(USER, PASSWORD)},
        ) as client:
            good = {"serviceName": "A", "shape": "VM.Standard2.1", "managedServers": "2"}
            bad = {"serviceName": "B", "managedServers": 9, "useIdentityService": "yes"}
            accepted = await client.post(INSTANCES, json={"serviceParameters": good})
            refused = await client.post(INSTANCES, json={"serviceParameters": bad})
            document = (await client.get("/openapi.json")).json()

    assert accepted.status_code == 202, accepted.text
    assert refused.status_code == 400
    assert refused.json()["details"]["issues"] == [
        "serviceParameters.shape: required",
        "serviceParameters.managedServers: expected a whole number from 1 to 8, as a number "
        "or a string of digits",
        'serviceParameters.useIdentityService: expected true or false, or "true" or "false"',
    ]
    path = "/paas/api/v1.1/instancemgmt/{domain}/services/jaas/instances"
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    validator = jsonschema_rs.validator_for(body["schema"])
    assert validator.is_valid({"serviceParameters": good})
    assert not validator.is_valid({"serviceParameters": bad})
    # Only what jaas offers: no start, stop, restart or delete.
    assert f"{path}/{{name}}/hosts/start" not in document["paths"]
    assert set(document["paths"][f"{path}/{{name}}"]) == {"get"}


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('type = "float"', "expected one of string, integer, boolean"),
        ('required_for = ["STOP_SERVICE"]', "expected operations among CREATE_SERVICE"),
        ('pattern = "("', "not a regular expression"),
        ("minimum = 5\nmaximum = 2", "expected a whole number, 5 or more"),
        ("colour = 1", "unknown key"),
    ],
)
def test_a_bad_declaration_names_its_key(tmp_path: Path, table: str, problem: str) -> None:
    config = tmp_path / "activitylog.toml"
    config.write_text(
        '[service_types.jaas.operations.CREATE_SERVICE]\nhandler = "command"\n'
        'command = ["true"]\n[service_types.jaas.parameters.size]\n' + table + "\n"
    )

    with pytest.raises(errors.InvalidConfiguration, match=problem):
        load_config(config)
