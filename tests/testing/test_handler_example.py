"""docs/handlers.md's "Testing a handler" example is examples/testing-a-handler/test_back_up.py,
word for word, and its tests pass."""

from __future__ import annotations

import importlib.util
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "testing-a-handler" / "test_back_up.py"
GUIDE = ROOT / "docs" / "handlers.md"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("testing_a_handler_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_shows_the_example_file_whole() -> None:
    section = GUIDE.read_text().split("### 3.4 Testing a handler", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)

    assert block is not None
    assert block.group(1) == EXAMPLE.read_text()


EXAMPLE_TESTS = [
    pytest.param(test, id=name)
    for name, test in inspect.getmembers(load_example(), inspect.isfunction)
    if name.startswith("test_")
]


def test_the_example_has_tests() -> None:
    assert len(EXAMPLE_TESTS) >= 2


@pytest.mark.parametrize("example_test", EXAMPLE_TESTS)
def test_the_examples_tests_pass(example_test: Callable[[], None]) -> None:
    example_test()
