"""activitylog.testing's public surface is exactly its ``__all__``, each name documented."""

from __future__ import annotations

import types

import activitylog.testing


def test_all_lists_every_public_name_and_only_those() -> None:
    public = {
        name
        for name, value in vars(activitylog.testing).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # the `from __future__ import annotations` feature
    }
    assert set(activitylog.testing.__all__) == public
    assert activitylog.testing.__all__ == sorted(activitylog.testing.__all__)


def test_every_public_name_is_documented_in_the_package_and_on_itself() -> None:
    for name in activitylog.testing.__all__:
        assert f"``{name}``" in (activitylog.testing.__doc__ or ""), name
        assert (getattr(activitylog.testing, name).__doc__ or "").strip(), name
