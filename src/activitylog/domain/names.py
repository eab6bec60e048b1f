"""Naming rules for identity domains."""

from __future__ import annotations

import re

_DOMAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_domain_name(name: str) -> str | None:
    """Why ``name`` cannot name an identity domain, or None when it can."""
    if not _DOMAIN_NAME.fullmatch(name):
        return (
            "an identity domain name is 1 to 100 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return None
