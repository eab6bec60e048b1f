"""How new passwords are hashed (argon2), for the API, the CLI and the demo tenant alike."""

from __future__ import annotations

import argon2


def password_hasher(*, fast: bool = False) -> argon2.PasswordHasher:
    """The hasher for new passwords; ``fast`` is for tests only (weak parameters)."""
    if fast:
        return argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return argon2.PasswordHasher()
