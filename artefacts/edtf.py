"""Dates in the Extended Date/Time Format (EDTF, ISO 8601-2), level 0 only.

Accepted forms, each a real calendar date (leap years included):

- a year ``1973``, a month ``1973-09``, a day ``1973-09-11``;
- an interval of two of those ``1973-09/1974-03`` whose start is not after its end;
- only where ``allow_time`` is true, a date and time ``2024-03-01T10:20:00`` with an optional
  zone ``Z``, ``+hh`` or ``+hh:mm`` (``-`` likewise).

Level 1 and 2 features (``1973?``, ``197X``, ``../1974``, seasons) are refused with a hint,
so that a search for a period never silently misses a record.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}(?::\d{2})?)?")


class EdtfError(ValueError):
    """The text is not an EDTF level 0 date; ``hint`` says what to write instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class _Day:
    year: int
    month: int
    day: int

    def iso(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


_FORMS_HINT = (
    "write a year (1973), a month (1973-09), a day (1973-09-11) or an interval (1973-09/1974-03)"
)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _parse_date(text: str) -> tuple[_Day, _Day]:
    """The first and last day a date of any precision covers."""
    m = _DATE.fullmatch(text)
    if m is None:
        raise EdtfError(f"{text!r} is not a date", _FORMS_HINT)
    year = int(m.group(1))
    if m.group(2) is None:
        return _Day(year, 1, 1), _Day(year, 12, 31)
    month = int(m.group(2))
    if not 1 <= month <= 12:
        raise EdtfError(f"{text!r} has no month {month:02d}", "months run from 01 to 12")
    last = _days_in_month(year, month)
    if m.group(3) is None:
        return _Day(year, month, 1), _Day(year, month, last)
    day = int(m.group(3))
    if not 1 <= day <= last:
        raise EdtfError(
            f"{text!r} is not a real calendar day ({calendar.month_name[month]} {year} has {last})",
            "check the day and the month; 29 February exists only in leap years",
        )
    return _Day(year, month, day), _Day(year, month, day)


def _check_time(text: str, whole: str) -> None:
    m = _TIME.fullmatch(text)
    if m is None:
        raise EdtfError(
            f"{whole!r} has a time that is not hh:mm:ss",
            "write a date and time as 2024-03-01T10:20:00Z (the zone Z or +hh:mm is optional)",
        )
    hour, minute, second = (int(g) for g in m.group(1, 2, 3))
    if hour > 23 or minute > 59 or second > 59:
        raise EdtfError(f"{whole!r} has no such time of day", "hours run to 23, minutes to 59")
    zone = m.group(4)
    if zone and zone != "Z" and (int(zone[1:3]) > 23 or (len(zone) > 3 and int(zone[4:6]) > 59)):
        raise EdtfError(f"{whole!r} has an impossible time zone offset", "write Z or +hh:mm")


def _refuse_other_levels(text: str) -> None:
    if any(c in text for c in "?~%X[]{}") or ".." in text or text.startswith(("-", "Y")):
        raise EdtfError(
            f"{text!r} uses EDTF features beyond level 0 (uncertain, approximate, open or"
            " unspecified dates)",
            _FORMS_HINT + "; say how certain the date is in the description",
        )


def check_edtf(text: str, *, allow_time: bool = False) -> str:
    """Return ``text`` unchanged if it is a valid EDTF level 0 value; raise EdtfError if not."""
    _refuse_other_levels(text)
    if "/" in text:
        start_text, _, end_text = text.partition("/")
        if "T" in text:
            raise EdtfError(
                f"{text!r} is an interval with times", "an interval joins two dates without times"
            )
        start = _parse_date(start_text)
        end = _parse_date(end_text)
        # Only an interval whose start lies wholly after its end is wrong: "1973-09/1973"
        # (September to some time in 1973) is vague but not contradictory.
        if start[0].iso() > end[1].iso():
            raise EdtfError(
                f"{text!r} starts after it ends", "put the earlier date first: START/END"
            )
        return text
    if "T" in text:
        if not allow_time:
            raise EdtfError(
                f"{text!r} has a time of day",
                "give only the date (1973-09-11); the time belongs in the description",
            )
        date_text, _, time_text = text.partition("T")
        if len(date_text) != 10:
            raise EdtfError(f"{text!r} needs a full date before the time", "2024-03-01T10:20:00Z")
        _parse_date(date_text)
        _check_time(time_text, text)
        return text
    _parse_date(text)
    return text


def date_interval(value: str) -> tuple[str, str]:
    """The first and last calendar day (``YYYY-MM-DD``) a valid EDTF level 0 value covers.

    ``"1973-09"`` -> ``("1973-09-01", "1973-09-30")``; ``"1973/1974-03"`` -> ``("1973-01-01",
    "1974-03-31")``; a date and time covers its own day. Raises EdtfError on invalid input.
    """
    check_edtf(value, allow_time=True)
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        return _parse_date(start_text)[0].iso(), _parse_date(end_text)[1].iso()
    first, last = _parse_date(value.partition("T")[0])
    return first.iso(), last.iso()
