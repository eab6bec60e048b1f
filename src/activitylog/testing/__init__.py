"""What tests of code built on activitylog need: fakes and faults that behave as the real thing.

- ``FaultyStore`` wraps any Store and makes its calls fail as real databases fail (``Fault``),
  for tests of everything above the store: the worker, the API, an integration.
"""

from __future__ import annotations

from activitylog.testing._faults import Fault, FaultyStore

__all__ = [
    "Fault",
    "FaultyStore",
]
