"""EDTF level 0 dates: which texts are dates, and which days they cover."""

from __future__ import annotations

import pytest

from artefacts.edtf import EdtfError, check_edtf, date_interval

VALID = [
    ("1973", ("1973-01-01", "1973-12-31")),
    ("1973-09", ("1973-09-01", "1973-09-30")),
    ("1973-02", ("1973-02-01", "1973-02-28")),
    ("1976-02", ("1976-02-01", "1976-02-29")),
    ("1973-09-11", ("1973-09-11", "1973-09-11")),
    ("1976-02-29", ("1976-02-29", "1976-02-29")),
    ("2000-02-29", ("2000-02-29", "2000-02-29")),
    ("1973-09/1974-03", ("1973-09-01", "1974-03-31")),
    ("1973/1976", ("1973-01-01", "1976-12-31")),
    ("1973-09-11/1973-09-11", ("1973-09-11", "1973-09-11")),
    ("1973-09/1973", ("1973-09-01", "1973-12-31")),
    ("0000", ("0000-01-01", "0000-12-31")),
]

INVALID = [
    "1973-02-29",  # 1973 is not a leap year
    "1900-02-29",  # nor is 1900
    "1973-13",
    "1973-00",
    "1973-04-31",
    "1973-09-00",
    "73",
    "1973-9-11",
    "11/09/1973",
    "septiembre 1973",
    "1974/1973",
    "1973-09-12/1973-09-11",
    "1974-03/1973-09",
    "1973?",
    "197X",
    "../1974",
    "1973/..",
    "1973~",
    "-1973",
    "1973-09-11T10:00:00",  # a time is for 'created' only
    "",
    "1973/",
]


@pytest.mark.parametrize(("text", "interval"), VALID)
def test_valid_dates_and_their_days(text: str, interval: tuple[str, str]) -> None:
    assert check_edtf(text) == text
    assert date_interval(text) == interval


@pytest.mark.parametrize("text", INVALID)
def test_invalid_dates_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(EdtfError) as caught:
        check_edtf(text)
    assert caught.value.hint


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01T10:20:00Z",
        "2024-03-01T10:20:00",
        "2024-03-01T10:20:00-03:00",
        "2024-03-01T23:59:59+05",
    ],
)
def test_date_times_only_where_allowed(text: str) -> None:
    assert check_edtf(text, allow_time=True) == text
    assert date_interval(text) == ("2024-03-01", "2024-03-01")
    with pytest.raises(EdtfError):
        check_edtf(text)


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01T24:00:00Z",
        "2024-03-01T10:60:00",
        "2024-03-01T10:20",
        "2024-03-01 10:20:00",
        "2024-02-30T10:20:00Z",
        "2024-03T10:20:00Z",
        "2024-03-01T10:20:00+25:00",
        "2024-03-01T10:20:00Z/2024-03-02",
    ],
)
def test_bad_date_times(text: str) -> None:
    with pytest.raises(EdtfError):
        check_edtf(text, allow_time=True)


def test_leap_day_error_names_the_month() -> None:
    with pytest.raises(EdtfError, match=r"not a real calendar day.*February 1973 has 28"):
        check_edtf("1973-02-29")
