"""The client's public surface is exactly its ``__all__``, and its error tree is drawn in full."""

from __future__ import annotations

import inspect
import types

import activitylog.client
from activitylog.client import _errors


def test_all_lists_every_public_name_and_only_those() -> None:
    public = {
        name
        for name, value in vars(activitylog.client).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # the `from __future__ import annotations` feature
    }
    assert set(activitylog.client.__all__) == public
    assert activitylog.client.__all__ == sorted(activitylog.client.__all__, key=_sort_key)


def _sort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_every_exception_is_drawn_in_the_tree_and_exported() -> None:
    classes = [
        value
        for value in vars(_errors).values()
        if inspect.isclass(value) and issubclass(value, _errors.ClientError)
    ]
    tree = _errors.__doc__ or ""
    for error_class in classes:
        assert f" {error_class.__name__} " in f"{tree} ".replace("\n", " ")
        assert error_class.__name__ in activitylog.client.__all__
        assert (error_class.__doc__ or "").strip(), error_class


def test_api_error_classes_by_status() -> None:
    assert _errors.api_error_class(404) is activitylog.client.NotFound
    assert _errors.api_error_class(503) is activitylog.client.ServiceUnavailable
    assert _errors.api_error_class(502) is activitylog.client.ServerError
    assert _errors.api_error_class(418) is activitylog.client.ApiError
    assert issubclass(activitylog.client.InvalidJobUrl, ValueError)
