"""Custody events are RFC 8785 canonical JSON: our fast path must agree with rfc8785."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.custody_log import canonical

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400)
@given(json_values)
def test_canonical_agrees_with_rfc8785(value):
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return  # values RFC 8785 refuses (e.g. integers beyond 2^53) are not events
    assert canonical(value) == expected


def test_keys_sorted_by_utf16_code_units():
    # U+1F600 is D83D DE00 in UTF-16, before U+FB01 (FB01); by code point it would be after.
    value = {"\U0001f600": 1, "\ufb01": 2}
    assert canonical(value) == rfc8785.dumps(value)
