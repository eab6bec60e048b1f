"""The SDK stands alone: importing it loads no server code (engine, store, HTTP app, settings)."""

from __future__ import annotations

import subprocess
import sys

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
