"""The client commands run against the same `activitylog serve --demo` as the SDK's tests."""

from tests.client.conftest import server  # noqa: F401 - the re-exported fixture
from tests.e2e.conftest import start_server  # noqa: F401 - which `server` needs
