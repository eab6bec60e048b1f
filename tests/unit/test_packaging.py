"""The deployment files, checked as far as this machine can without a container engine:
the Dockerfile's promises, compose.yaml's shape, the systemd units (systemd-analyze verify
when it is installed), and the Grafana dashboard's metric names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # schemathesis brings PyYAML, without stubs
from prometheus_client import REGISTRY

import activitylog.metrics  # noqa: F401 - registers the metrics

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_slim_non_root_ready_check_and_volume() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert bases
    assert all(base.endswith("-slim") for base in bases)
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    instructions = text.replace("\\\n", " ").splitlines()
    (healthcheck,) = [line for line in instructions if line.startswith("HEALTHCHECK")]
    assert "/health/ready" in healthcheck
    assert re.search(r'^VOLUME \["/var/lib/activitylog"\]', text, flags=re.MULTILINE)
    assert "ACTIVITYLOG_DB=/var/lib/activitylog/" in text


def test_compose_two_apis_and_two_workers_on_postgres() -> None:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = document["services"]
    commands = {name: service.get("command", []) for name, service in services.items()}
    apis = [n for n, c in commands.items() if c[:1] == ["serve"]]
    workers = [n for n, c in commands.items() if c[:1] == ["worker"]]
    assert len(apis) == 2
    assert all("--no-worker" in commands[n] for n in apis)
    assert len(workers) == 2
    for name in [*apis, *workers]:
        service = services[name]
        assert service["environment"]["ACTIVITYLOG_DB"].startswith("postgresql://")
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["migrate"]
    assert "postgres" in services["postgres"]["image"]
    # Every service a depends_on names exists.
    for service in services.values():
        assert set(service.get("depends_on", {})) <= set(services)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_units_verify(tmp_path: Path) -> None:
    units = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
    assert len(units) == 4
    # verify wants the binaries the units name to exist: stand-ins under a path of its own.
    for unit in units:
        text = unit.read_text().replace("/opt/activitylog/bin/activitylog", "/bin/true")
        name = unit.name.replace("@.service", "@8081.service")
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(map(str, tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Users and EnvironmentFiles of the target machine are not here; nothing else may fail.
    problems = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "activitylog.env" not in line and "User" not in line
    ]
    assert problems == [], result.stderr


def test_the_dashboard_uses_metrics_that_exist() -> None:
    dashboard = json.loads((ROOT / "examples" / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for e in expressions for name in re.findall(r"activitylog_\w+", e)}
    # A family's samples are named after it, with these suffixes by type.
    exported = {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_bucket", "_count", "_sum")
    }
    assert used - exported == set()
    for name in (
        "activitylog_http_requests_total",
        "activitylog_job_duration_seconds_bucket",
        "activitylog_job_wait_seconds_bucket",
        "activitylog_jobs_waiting",
        "activitylog_oldest_waiting_job_age_seconds",
    ):
        assert name in used
