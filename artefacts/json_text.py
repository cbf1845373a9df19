"""The JSON text of every file we store for people to read: records, inventories, settings.

Exactly ``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)``: the bytes of a
signed record must never depend on which code wrote them. With an indent, the standard
library falls back to its pure-Python encoder (generators yielding every piece); this
writer walks the value directly and leaves strings to the C escaper, in half the time (an
ingest writes three such files per artefact). Anything outside plain JSON data (a key that
is not text, a NaN, another type) goes to ``json.dumps`` itself, which decides.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import Any

__all__ = ["indented_json"]


class _Unusual(Exception):
    """A value the direct walk leaves to json.dumps."""


def indented_json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)``, faster."""
    out: list[str] = []
    try:
        _walk(value, "\n", out.append)
    except _Unusual:
        return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
    return "".join(out)


def _walk(value: Any, pad: str, add: Any) -> None:
    if isinstance(value, str):
        add(encode_basestring(value))
    elif value is None:
        add("null")
    elif value is True:
        add("true")
    elif value is False:
        add("false")
    elif isinstance(value, int):
        add(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Unusual
        add(float.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            add("{}")
            return
        if not all(isinstance(k, str) for k in value):
            raise _Unusual
        inner = pad + "  "
        opening = "{"
        for key in sorted(value):
            add(opening + inner + encode_basestring(key) + ": ")
            opening = ","
            _walk(value[key], inner, add)
        add(pad + "}")
    elif isinstance(value, list | tuple):
        if not value:
            add("[]")
            return
        inner = pad + "  "
        opening = "["
        for item in value:
            add(opening + inner)
            opening = ","
            _walk(item, inner, add)
        add(pad + "]")
    else:
        raise _Unusual
