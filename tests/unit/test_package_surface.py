"""The top-level package's public names: each listed in ``__all__`` and each resolves, lazily."""

from __future__ import annotations

import activitylog
from activitylog import _version
from activitylog.domain.jobs import JobStatus
from activitylog.engine.handlers import JobContext, ServiceType, ServiceTypeRegistry
from activitylog.errors import ActivityLogError
from activitylog.settings import Settings


def test_every_public_name_resolves_to_its_definition() -> None:
    expected = {
        "ActivityLogError": ActivityLogError,
        "JobContext": JobContext,
        "JobStatus": JobStatus,
        "ServiceType": ServiceType,
        "ServiceTypeRegistry": ServiceTypeRegistry,
        "Settings": Settings,
        "__version__": _version.__version__,
    }
    assert sorted(activitylog.__all__) == sorted(expected)
    for name, value in expected.items():
        assert getattr(activitylog, name) is value
    assert set(activitylog.__all__) <= set(dir(activitylog))


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(activitylog, "NoSuchName")
