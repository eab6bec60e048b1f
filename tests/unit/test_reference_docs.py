"""docs/reference.md is generated from the code (scripts/reference.py): it must match it."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

from activitylog.settings import Settings

ROOT = Path(__file__).parents[2]


def reference_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference", ROOT / "scripts" / "reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_reference_is_up_to_date() -> None:
    written = (ROOT / "docs" / "reference.md").read_text()

    assert written == reference_script().render(), (
        "docs/reference.md is out of date: run .venv/bin/python scripts/reference.py"
    )


def test_it_documents_the_commands_and_every_setting() -> None:
    text = reference_script().render()

    for command in ("serve", "worker", "migrate", "domain add", "user add", "user passwd"):
        assert f"## `activitylog {command}`" in text
    for field in dataclasses.fields(Settings):
        assert f"| `{field.name}` |" in text
