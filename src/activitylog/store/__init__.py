"""Storage: one protocol, a SQLite and a PostgreSQL implementation, SQL kept as data."""

from activitylog.store.base import Store, open_store

__all__ = ["Store", "open_store"]
