"""`--config` on `serve` and `worker`: a bad file stops start-up with one clear line.

Run as real processes: the CLI configures process-wide logging, which an in-process run
would leave pointing at a closed stream.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPECTED = (
    "service_types.caching.operations.CREATE_SERVICE.timeout: "
    'expected a number of seconds greater than 0, got "ten"'
)


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "activitylog.toml"
    path.write_text(
        '[service_types.caching.operations.CREATE_SERVICE]\nhandler = "command"\n'
        'command = ["true"]\ntimeout = "ten"\n'
    )
    return path


def activitylog(
    *arguments: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "activitylog", *arguments],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_bad_file_is_reported_without_a_traceback(
    bad_config: Path, tmp_path: Path, command: str
) -> None:
    result = activitylog(command, "--config", str(bad_config), cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.endswith(f"Error: {bad_config}: {EXPECTED}\n")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "activitylog.db").exists()  # nothing was opened


def test_the_environment_variable_names_the_file(bad_config: Path, tmp_path: Path) -> None:
    result = activitylog("worker", cwd=tmp_path, env={"ACTIVITYLOG_CONFIG": str(bad_config)})

    assert result.returncode == 1
    assert result.stderr.endswith(f"Error: {bad_config}: {EXPECTED}\n")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_help_names_the_option_and_its_variable(command: str, tmp_path: Path) -> None:
    result = activitylog(command, "--help", cwd=tmp_path)

    shown = " ".join(result.stdout.split())  # as words: click wraps help at any space
    assert "--config" in shown
    assert "[env var: ACTIVITYLOG_CONFIG]" in shown
