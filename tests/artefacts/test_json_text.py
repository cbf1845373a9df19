"""indented_json writes exactly what json.dumps(sort_keys, indent=2, ensure_ascii=False) does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artefacts.json_text import indented_json


def _reference(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities included: left to json.dumps
    | st.text()  # every code point: quotes, backslashes, controls, lone surrogates
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)


@given(_VALUES)
def test_same_text_as_json_dumps(value: Any) -> None:
    assert indented_json(value) == _reference(value)


def test_keys_that_are_not_text_are_left_to_json_dumps() -> None:
    assert indented_json({1: "a", 2: [0.5, -0.0, 10**30]}) == _reference(
        {1: "a", 2: [0.5, -0.0, 10**30]}
    )
    with pytest.raises(TypeError):  # json.dumps cannot sort 1 and "b" either
        indented_json({1: "a", "b": "c"})


def test_a_record_like_value() -> None:
    record = {"id": "ab" * 32, "metadata": {"title": "Testimonio «Ñuñoa»\n", "people": []}}
    text = indented_json(record)
    assert text == _reference(record) and json.loads(text) == record
