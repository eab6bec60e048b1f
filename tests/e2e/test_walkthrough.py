"""The README's walk-through, replayed over HTTP against `activitylog serve --demo`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import StartServer

DOMAIN = "ExampleIdentityDomain"
AUTH = ("joe@example.com", "joePassword")
HEADERS = {"X-ID-TENANT-NAME": DOMAIN}
README = Path(__file__).parents[2] / "README.md"


def poll_until_ended(client: httpx.Client, location: str) -> list[str]:
    """Poll as a PSM client does; return every status seen, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = client.get(location)
        assert answer.status_code == 200, answer.text
        status = answer.json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in {"SUCCEED", "FAILED", "WARN"}:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"job did not end; statuses seen: {seen}")


def test_create_poll_search_and_look_up(start_server: StartServer) -> None:
    server = start_server("--demo", "--db", "walk.db", "--demo-step-delay", "0.1")
    assert "DEMO MODE" in server.log()
    with httpx.Client(base_url=server.url, auth=AUTH, headers=HEADERS) as client:
        created = client.post(
            f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances",
            json={"serviceParameters": {"serviceName": "MyCache", "size": "2"}},
        )
        assert created.status_code == 202
        job_id = created.json()["details"]["jobId"]
        location = created.headers["location"]
        assert location == f"{server.url}/paas/api/v1.1/activitylog/{DOMAIN}/job/{job_id}"

        statuses = poll_until_ended(client, location)
        assert statuses[-1] == "SUCCEED"
        assert statuses == [s for s in ["NEW", "RUNNING", "SUCCEED"] if s in statuses]
        job = client.get(location).json()
        messages = [m["message"] for m in job["messages"]]
        assert messages[:3] == [
            "Activity Submitted",
            "Activity Started",
            f"Started operation to create service [MyCache] in identity domain [{DOMAIN}].",
        ]
        assert any(m.startswith("Acquired resources for instance(2G)") for m in messages)
        assert messages[-1] == "Activity Ended"

        found = client.get(
            f"/paas/api/v1.1/activitylog/{DOMAIN}/filter",
            params={"serviceName": "MyCache", "status": "SUCCEED"},
        ).json()
        assert found["totalCount"] == 1
        assert found["activityLogs"][0]["jobId"] == int(job_id)

        record = client.get(f"/paas/api/v1.1/activitylog/{DOMAIN}/message/{job['activityLogId']}")
        assert record.status_code == 200
        assert record.content == client.get(location).content


def test_readme_curl_commands_work(start_server: StartServer) -> None:
    """Every curl line of the README, run by bash against a live server on another port."""
    server = start_server("--demo", "--db", "readme.db", "--demo-step-delay", "0")
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", README.read_text(), flags=re.DOTALL)
    curl_blocks = [b for b in blocks if "curl" in b]
    assert len(curl_blocks) >= 4
    outputs = []
    for block in curl_blocks:
        script = block.replace("http://127.0.0.1:8080", server.url)
        # Let the previous job end first: the README's reader waits between commands too.
        _wait_for_idle(server.url)
        result = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert "HTTP/1.1 202" in outputs[0]
    assert json.loads(outputs[1])["jobId"] == 1
    searched, record = json_documents(outputs[2])
    assert searched["totalCount"] == 1
    assert record["activityLogId"] == 1
    assert outputs[3].split() == ['"status":"SUCCEED"'] * 3


def json_documents(text: str) -> list[Any]:
    """The JSON documents curl printed back to back, with no separator."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


def _wait_for_idle(url: str) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, auth=AUTH) as client:
        while time.monotonic() < deadline:
            running = client.get(
                f"/paas/api/v1.1/activitylog/{DOMAIN}/filter",
                params={"status": ["NEW", "RUNNING"]},
            ).json()
            if running["totalCount"] == 0:
                return
            time.sleep(0.02)
    raise AssertionError("jobs did not end")
