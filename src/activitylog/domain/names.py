"""Naming rules for identity domains and their users."""

from __future__ import annotations

import re

_DOMAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# Characters that reorder the text around them (Unicode's Bidi_Control property): in a list of
# users or a job's authUser, "admin<U+202E>gpj.exe" displays as "adminexe.jpg", and a name
# could pass for another. Embeddings, overrides, isolates and the invisible direction marks.
_BIDI_CONTROLS = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI_CONTROL = re.compile(f"[{_BIDI_CONTROLS}]")
# HTTP Basic splits user:password at the first colon, so a name holding one could never sign in.
USER_NAME = re.compile(rf"[^:\x00-\x1f\x7f-\x9f{_BIDI_CONTROLS}]{{1,255}}")
"""Every name check_user_name accepts (the OpenAPI document gives it as the pattern)."""


def check_domain_name(name: str) -> str | None:
    """Why ``name`` cannot name an identity domain, or None when it can."""
    if not _DOMAIN_NAME.fullmatch(name):
        return (
            "an identity domain name is 1 to 100 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return None


def check_user_name(name: str) -> str | None:
    """Why ``name`` cannot name a user, or None when it can."""
    bidi = _BIDI_CONTROL.search(name)
    if bidi:
        return (
            f"contains the bidirectional control character U+{ord(bidi[0]):04X}, which changes "
            "how the name displays; remove it"
        )
    if not USER_NAME.fullmatch(name):
        return "expected 1 to 255 characters, no ':' and no control characters"
    return None
