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


def test_lines_with_floats_constants_or_large_numbers_take_the_full_check() -> None:
    import pytest

    from archive.custody_log import parse_event
    from constancia.errors import FormatError

    base = (
        '{"action":"x","actor":{"key":"k"},"artefact":null,"details":{"v":%s},'
        '"seq":0,"sig":"s","time":"t"}'
    )
    assert parse_event((base % "9007199254740991").encode())["details"]["v"] == 2**53 - 1
    assert parse_event((base % "1.5").encode())["details"]["v"] == 1.5
    for bad in ("NaN", "Infinity", "1E5", "1.50", "9007199254740993"):
        with pytest.raises(FormatError):
            parse_event((base % bad).encode())


event_details = st.dictionaries(st.text(max_size=6), json_values, max_size=4)


@settings(max_examples=300)
@given(
    details=event_details,
    time=st.text(max_size=30),
    sig=st.text(max_size=12) | st.from_regex(r"[A-Za-z0-9+/]{0,40}={0,2}", fullmatch=True),
    artefact=st.none() | st.text(max_size=8),
)
def test_signed_line_is_the_canonical_event(details, time, sig, artefact):
    """LogWriter.add makes each line from the signing payload; it must be byte for byte the
    canonical form of the whole event, whatever the details, time and signature hold."""
    from archive.custody_log import signed_line, signing_payload

    event = {
        "action": "import",
        "actor": {"key": "SHA256:abc", "name": "Ana Pérez"},
        "artefact": artefact,
        "details": details,
        "seq": 7,
        "time": time,
        "sig": sig,
    }
    try:
        expected = rfc8785.dumps(event)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return
    assert signed_line(signing_payload(event), event) == expected


def test_signed_line_of_an_event_with_other_keys_is_encoded_whole():
    from archive.custody_log import signed_line, signing_payload

    event = {"action": "x", "seq": 1, "sig": "AAAA", "time": "t", "zzz": 1}
    assert signed_line(signing_payload(event), event) == rfc8785.dumps(event)


def test_values_the_fast_path_must_leave_to_rfc8785():
    # Nested keys outside the BMP, integers at 2^53 and floats deep in lists, and subclasses.
    from enum import IntEnum

    class Level(IntEnum):
        HIGH = 3

    for value in (
        {"a": [{"\U0001f600": 1, "\ufb01": 2}]},
        {"a": [1, {"b": [0.5]}]},
        {"a": Level.HIGH, "b": [True, None, -(2**53) + 1]},
    ):
        assert canonical(value) == rfc8785.dumps(value)
    # Not written as the standard library would: refused, however deep.
    import pytest

    with pytest.raises(rfc8785.CanonicalizationError):
        canonical({"a": [1, [2, [2**53]]]})
