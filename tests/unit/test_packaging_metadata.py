"""The package says what it is where PyPI and pip show it: licence text, URLs, classifiers."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def project() -> dict[str, object]:
    table: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def test_the_declared_licence_ships_with_its_full_text() -> None:
    assert project()["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_project_names_its_home_and_its_classifiers() -> None:
    urls = project()["urls"]
    assert isinstance(urls, dict)
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= urls.keys()
    classifiers = project()["classifiers"]
    assert isinstance(classifiers, list)
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Typing :: Typed" in classifiers


def test_serving_installs_no_test_tools_and_the_browser_is_an_extra_of_its_own() -> None:
    optional = project()["optional-dependencies"]
    assert isinstance(optional, dict)
    dependencies = project()["dependencies"]
    assert isinstance(dependencies, list)
    runtime = " ".join(dependencies)
    for tool in ("pytest", "hypothesis", "schemathesis", "playwright", "ruff", "mypy"):
        assert tool not in runtime
    assert not any("playwright" in requirement for requirement in optional["test"])
    assert any("playwright" in requirement for requirement in optional["browser"])
    assert "scripts/bootstrap serve" in (ROOT / "scripts" / "serve").read_text()
