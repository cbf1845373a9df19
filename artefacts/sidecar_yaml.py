"""Read untrusted YAML into plain data, with the line of every key.

A sidecar comes from the field: it may be malformed, hostile or huge. This module reads it
with the semantics of ``yaml.safe_load`` and then some: it composes the node tree itself and
builds only plain values (text, numbers, booleans, null, lists, mappings with text keys), so
no tag is ever constructed, let alone executed. It refuses aliases and anchors (the
"billion laughs" expansion), duplicate keys (which PyYAML would silently resolve to the last
one), nesting deeper than :data:`MAX_DEPTH`, and files larger than :data:`MAX_BYTES`. Every
refusal is a :class:`MetadataError` naming the file, the line and a fix.

Dates and times are kept as the text the user wrote (``1973-09-11`` stays a string), so that
nothing is lost to Python's calendar and the schema can give its own, plainer errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from constancia.errors import MetadataError

MAX_BYTES = 1024 * 1024
#: The top-level mapping is level 1; a value inside ``people: [{name: ...}]`` is level 4.
MAX_DEPTH = 20
# JSON numbers beyond 2**53 lose precision in many readers; keep such integers as written.
_MAX_SAFE_INT = 2**53 - 1

_Y = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = _Y + "str", _Y + "null", _Y + "bool", _Y + "int", _Y + "float"
_TIMESTAMP, _SEQ, _MAP = _Y + "timestamp", _Y + "seq", _Y + "map"


_EMPTY = "the file is empty; add at least a title, or delete it"
_EMPTY_HINT = "write a line such as  title: Testimonio de ...  in it, or delete the file"


class _Refusal(Exception):
    """Raised inside the composer; turned into a MetadataError with the file's path."""

    def __init__(self, message: str, line: int | None, hint: str) -> None:
        super().__init__(message)
        self.message, self.line, self.hint = message, line, hint


def _line(node_or_event: Any) -> int:
    return int(node_or_event.start_mark.line) + 1


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_Y) :] if tag.startswith(_Y) else tag


def _tag_refusal(node: Node) -> _Refusal:
    return _Refusal(
        f"uses the tag {_show_tag(node.tag)!r}, which Constancia never builds or runs",
        _line(node),
        "a sidecar holds only text, numbers, lists and key: value pairs; remove the tag",
    )


class _Guard(Composer):
    """The composer, refusing aliases, anchors and deep nesting before it builds a node."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent):
            raise _Refusal(
                f"uses an alias (*{event.anchor}), which Constancia refuses",
                _line(event),
                "write the value out in full instead of referring to an anchor",
            )
        if getattr(event, "anchor", None) is not None:
            raise _Refusal(
                f"uses an anchor (&{event.anchor}), which Constancia refuses",
                _line(event),
                "remove the anchor and write each value out in full",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refusal(
                    f"nests values more than {MAX_DEPTH} levels deep",
                    _line(event),
                    "keep the sidecar flat: keys with text or short lists as values",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PyLoader(_Guard, yaml.SafeLoader):
    """PyYAML's pure-Python scanner and parser."""


try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    _Loader: Callable[[str], Any] = _PyLoader
else:

    class _CLoader(_Guard, CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser (five times faster), our composer on top."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    _Loader = _CLoader


class _Builder:
    """Turns a composed node tree into plain values, recording the line of each key."""

    def __init__(self, loader: Any, text_keys: Collection[str]) -> None:
        self.loader = loader
        self.text_keys = text_keys
        self.lines: dict[str, int] = {}

    def top(self, node: MappingNode) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, key_line, value_node in self._pairs(node):
            self.lines[key] = key_line
            if isinstance(value_node, SequenceNode):
                for i, item in enumerate(value_node.value):
                    self.lines[f"{key}.{i}"] = _line(item)
            result[key] = self.value(value_node, key in self.text_keys)
        return result

    def _pairs(self, node: MappingNode) -> list[tuple[str, int, Node]]:
        if node.tag != _MAP:
            raise _tag_refusal(node)
        seen: dict[str, int] = {}
        pairs: list[tuple[str, int, Node]] = []
        for key_node, value_node in node.value:
            line = _line(key_node)
            if key_node.tag == _Y + "merge":
                raise _Refusal(
                    "uses a merge key (<<), which Constancia refuses", line, "write each key out"
                )
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a list or mapping"
                raise _Refusal(
                    f"has a key that is not text ({shown!r})",
                    line,
                    "keys are words such as title or places; quote a key that is a number",
                )
            key = str(key_node.value)
            if key in seen:
                raise _Refusal(
                    f"has the key {key!r} twice (lines {seen[key]} and {line})",
                    line,
                    "keep one of them; for several values use a list: [first, second]",
                )
            seen[key] = line
            pairs.append((key, line, value_node))
        return pairs

    def value(self, node: Node, as_text: bool) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, as_text)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                raise _tag_refusal(node)
            return [self.value(item, as_text) for item in node.value]
        assert isinstance(node, MappingNode)
        return {key: self.value(v, as_text) for key, _, v in self._pairs(node)}

    def _scalar(self, node: ScalarNode, as_text: bool) -> Any:
        tag, text = node.tag, str(node.value)
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _TIMESTAMP or (as_text and tag in (_INT, _FLOAT)):
            # Keep what was written: 1973-09-11 stays text, and so does 007 in a title.
            return text
        try:
            if tag == _BOOL:
                return self.loader.construct_yaml_bool(node)
            if tag == _INT:
                number = self.loader.construct_yaml_int(node)
                return number if abs(number) <= _MAX_SAFE_INT else text
            if tag == _FLOAT:
                real = self.loader.construct_yaml_float(node)
                return real if math.isfinite(real) else text
        except (ValueError, KeyError, yaml.YAMLError):
            raise _Refusal(
                f"has {text!r} marked as {_show_tag(tag)}, which it is not",
                _line(node),
                "remove the tag",
            ) from None
        raise _tag_refusal(node)


def _syntax_line(error: yaml.YAMLError, text: str) -> int | None:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(error, "position", None)
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return None


def read_limited(path: Path) -> bytes:
    """The file's bytes, refusing more than MAX_BYTES without reading past them."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise MetadataError(
            f"the file cannot be read ({e.strerror or e})",
            path=path,
            hint="check that the file exists and that you may read it",
        ) from None
    if len(data) > MAX_BYTES:
        raise MetadataError(
            "the file is larger than 1 MiB, too large for a metadata sidecar",
            path=path,
            hint="a sidecar holds a few lines of description; keep long texts in their own file",
        )
    return data


def decode_utf8(data: bytes, path: Path) -> str:
    """The text of a sidecar; a MetadataError naming the first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise MetadataError(
            f"the file is not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start}"
            f" (line {line}) cannot be read",
            path=path,
            line=line,
            hint="save the file as UTF-8 in your text editor (Save As, encoding UTF-8)",
        ) from None
    return text.removeprefix("\ufeff")


def parse_yaml_mapping(
    text: str, path: Path, *, text_keys: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, int]]:
    """Plain values and the line of each key (``"places.2"`` for list items) of a YAML mapping.

    Under a key in ``text_keys``, numbers and dates are kept as the text written. Raises
    MetadataError for anything this module refuses, and for an empty file.
    """
    try:
        loader: Any = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
                raise _Refusal(_EMPTY, None, _EMPTY_HINT)
            if not isinstance(root, MappingNode):
                kind = "a list" if isinstance(root, SequenceNode) else "a single value"
                raise _Refusal(
                    f"holds {kind} where Constancia expects key: value pairs",
                    _line(root),
                    "start each line with a key, for example  title: Testimonio de ...",
                )
            builder = _Builder(loader, text_keys)
            values = builder.top(root)
        finally:
            loader.dispose()
    except _Refusal as r:
        raise MetadataError(r.message, path=path, line=r.line, hint=r.hint) from None
    except yaml.YAMLError as e:
        line = _syntax_line(e, text)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        near = f"near line {line}" if line else "in the file"
        raise MetadataError(
            f"the file is not valid YAML ({problem})",
            path=path,
            line=line,
            hint=f"check the indentation and quotes {near}",
        ) from None
    if not values:
        raise MetadataError(_EMPTY, path=path, hint=_EMPTY_HINT)
    return values, builder.lines
