"""Saved connection profiles: one JSON file, readable by its owner only, as `login` writes it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

PROFILE_FILE_NAME = "profile.json"


class ProfileError(Exception):
    """The profile file cannot be used."""


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    url: str
    user: str
    domain: str
    password: str = dataclasses.field(default="", repr=False)


def load_profile(path: Path, name: str) -> Profile | None:
    """The profile called ``name``, or None when the file or the profile does not exist."""
    profiles = _read(path)
    entry = profiles.get(name)
    if entry is None:
        return None
    try:
        return Profile(
            **{field: str(entry[field]) for field in ("url", "user", "domain")},
            password=str(entry.get("password", "")),
        )
    except (KeyError, TypeError) as exc:
        raise ProfileError(f"Profile {name!r} in {path} is incomplete: {exc}.") from exc


def save_profile(path: Path, name: str, profile: Profile) -> None:
    """Add or replace profile ``name``; the file is created (or rewritten) with mode 0600."""
    profiles = _read(path)
    profiles[name] = dataclasses.asdict(profile)
    _write_private(path, {"profiles": profiles})


def remove_profile(path: Path, name: str) -> bool:
    profiles = _read(path)
    if profiles.pop(name, None) is None:
        return False
    _write_private(path, {"profiles": profiles})
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ProfileError(f"{path} holds a password and others can read it; run: chmod 600 {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        profiles = document["profiles"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProfileError(f"Cannot read the profile file {path}: {exc}.") from exc
    if not isinstance(profiles, dict):
        raise ProfileError(f"Cannot read the profile file {path}: 'profiles' is not an object.")
    return profiles


def _write_private(path: Path, document: dict[str, Any]) -> None:
    # Written to a 0600 temporary file and renamed over, so the password is never readable by
    # others, not even for a moment, and a crash cannot leave half a file.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".profile-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
