"""What tests of code built on activitylog need: fakes and faults that behave as the real thing.

- ``FakeJobContext`` is the JobContext a handler gets, without a store or a worker: a unit test
  passes it to the handler, can cancel the job mid-run, then reads what the handler reported.
  docs/handlers.md, "Testing a handler", shows one.
- ``FaultyStore`` wraps any Store and makes its calls fail in one of the three ways real
  databases fail, which ``Fault`` names, for tests of everything above the store: the worker,
  the API, an integration.
"""

from __future__ import annotations

from activitylog.testing._fake_context import FakeJobContext
from activitylog.testing._faults import Fault, FaultyStore

__all__ = [
    "FakeJobContext",
    "Fault",
    "FaultyStore",
]
