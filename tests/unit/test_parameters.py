"""domain.parameters: the published pattern of an integer parameter takes exactly the digit
strings the server takes."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog.domain.parameters import DeclaredParameter, digits_pattern


@settings(deadline=None)
@given(
    st.integers(min_value=0, max_value=5000),
    st.integers(min_value=0, max_value=5000),
    st.integers(min_value=0, max_value=20000),
    st.integers(min_value=0, max_value=3),
)
def test_digits_pattern_matches_the_server(low: int, span: int, value: int, zeros: int) -> None:
    parameter = DeclaredParameter("n", "integer", minimum=low, maximum=low + span)
    text = "0" * zeros + str(value)

    published = re.fullmatch(digits_pattern(low, low + span), text) is not None

    assert published == (parameter.problem(text) is None) == (low <= value <= low + span)


def test_no_maximum() -> None:
    pattern = re.compile(digits_pattern(12, None))
    assert [bool(pattern.fullmatch(t)) for t in ("11", "12", "99", "100", "0012", "")] == [
        False, True, True, True, True, False,
    ]  # fmt: skip
