"""The SDK stands alone: importing it loads no server code (engine, store, HTTP app, settings),
and its package holds no command-line code (that is `activitylog.cli`'s)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import activitylog.client

# Beside the SDK's own modules, all that `import activitylog.client` may load of ours: the
# package itself (whose server names are imported lazily) and the version for the User-Agent.
ALLOWED = {"activitylog", "activitylog._version"}


def test_importing_the_sdk_loads_nothing_of_the_server() -> None:
    # A fresh interpreter: this test process has long imported the server for other tests.
    program = "import sys, activitylog.client; print(*sorted(sys.modules), sep='\\n')"
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = run.stdout.split()

    ours = {name for name in loaded if name.partition(".")[0] == "activitylog"}
    sdk = {name for name in ours if f"{name}.".startswith("activitylog.client.")}
    assert "activitylog.client" in sdk
    assert ours - sdk - ALLOWED == set()


def test_no_sdk_module_imports_click_or_rich() -> None:
    # Checked in the source, not in sys.modules: httpx itself imports both when installed (for
    # its own command line), so only what our modules ask for can be held to.
    for module in Path(activitylog.client.__file__).parent.glob("*.py"):
        assert not _top_level_imports(module) & {"click", "rich"}, module.name


def _top_level_imports(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.partition(".")[0])
    return names
