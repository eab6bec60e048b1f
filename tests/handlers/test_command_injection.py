"""Hostile names and parameters reach a command verbatim, as data, and never run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from activitylog.engine.command_handler import command_handler
from activitylog.store.base import Store
from tests.handlers.conftest import ClaimJob, MakeCommand, WriteScript, messages_of

pytestmark = pytest.mark.anyio


def hostile(marker: Path) -> str:
    return (
        f"x$(touch {marker}); rm -rf {marker.parent}/nothing `touch {marker}` "
        f"'single' \"double\" \\back\nsecond line; touch {marker} && echo $HOME"
    )


async def test_hostile_values_arrive_verbatim_through_a_python_script(
    claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    text = hostile(marker)
    script = write_script(
        "dump.py",
        """
        import json, os, sys
        job = json.load(sys.stdin)
        seen = {"name_env": os.environ["ACTIVITYLOG_SERVICE_NAME"], "job": job}
        open("seen.json", "w").write(json.dumps(seen))
        """,
    )
    parameters = {
        "size": text,
        "nested": {"list": [text, "$(id)"]},
        text: "key too",
        "unicode": "café ☕ \ud800",  # a lone surrogate, as JSON's \ud800 decodes
    }
    context = await claim_job(text, parameters)

    await command_handler(make_command(sys.executable, script))(context)

    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["name_env"] == text
    assert seen["job"]["serviceName"] == text
    assert seen["job"]["parameters"] == parameters
    assert not marker.exists()


async def test_a_shell_script_that_quotes_its_variables_is_safe_too(
    store: Store,
    claim_job: ClaimJob,
    write_script: WriteScript,
    make_command: MakeCommand,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    text = hostile(marker)
    script = write_script(
        "echo.sh",
        """
        printf 'service [%s]\\n' "$ACTIVITYLOG_SERVICE_NAME"
        cat > stdin.json
        """,
    )
    context = await claim_job(text, {"size": text})

    await command_handler(make_command("/bin/sh", script))(context)

    first, second = text.split("\n")
    assert await messages_of(store, context) == [f"service [{first}", f"{second}]"]
    assert json.loads((tmp_path / "stdin.json").read_text())["parameters"] == {"size": text}
    assert not marker.exists()
