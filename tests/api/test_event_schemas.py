"""The event streams keep to the event schemas /openapi.json declares for them: each event
(`{event, id, data}`, as schemathesis and OpenAPI 3.1 read a `text/event-stream` schema) and
the JSON in its `data` (its `contentSchema`), comments being no events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import jsonschema_rs
import pytest
from schemathesis.core.deserialization import _parse_sse_events

from tests.api.conftest import store_of
from tests.api.test_live_status import scripted, start_job, until
from tests.conftest import JOB_PREFIX

pytestmark = pytest.mark.anyio
__all__ = ["scripted"]  # the fixture, imported for these tests


async def _event_schema(client: Any, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    document = (await client.get("/openapi.json")).json()
    answer = document["paths"][path]["get"]["responses"]["200"]
    return answer["content"]["text/event-stream"]["schema"], document


def _hold_to_schema(schema: dict[str, Any], document: dict[str, Any], events: Any) -> None:
    validator = jsonschema_rs.validator_for(
        {**schema, "components": document["components"]},
    )
    for event in events:
        validator.validate(event)
        options = schema.get("oneOf", [schema])
        (matching,) = [o for o in options if o["properties"]["event"]["const"] == event["event"]]
        data_schema = matching["properties"]["data"]["contentSchema"]
        jsonschema_rs.validator_for(data_schema).validate(json.loads(event["data"]))


async def test_job_stream_events_match_the_declared_schema(scripted: Any) -> None:
    client, script, _ = scripted
    url = await start_job(client)
    stream = asyncio.create_task(client.get(f"{url}/events"))
    for command in ("first", "progress:50", "end"):
        await anyio.sleep(0.05)
        script.commands.put_nowait(command)
    with anyio.fail_after(10):
        answer = await stream
    schema, document = await _event_schema(
        client, "/paas/api/v1.1/activitylog/{domain}/job/{jobId}/events"
    )

    events = _parse_sse_events(answer.content)

    assert {e["event"] for e in events} == {"message", "status", "progress", "end"}
    _hold_to_schema(schema, document, events)


async def test_domain_stream_events_match_the_declared_schema(scripted: Any) -> None:
    client, script, app = scripted
    stream = asyncio.create_task(client.get(f"{JOB_PREFIX}/events"))
    await anyio.sleep(0.05)
    url = await start_job(client)
    script.commands.put_nowait("end")
    await until(client, url, lambda job: job["status"] == "SUCCEED")
    await anyio.sleep(0.05)
    store_of(app).changes.close()
    with anyio.fail_after(10):
        answer = await stream
    schema, document = await _event_schema(client, "/paas/api/v1.1/activitylog/{domain}/events")

    assert answer.text.startswith(": watching\n\n")
    events = _parse_sse_events(answer.content)

    assert [e["event"] for e in events][:1] == ["job"]
    _hold_to_schema(schema, document, events)
