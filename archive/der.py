"""A small, strict reader (and writer) of ASN.1 DER (ITU-T X.690), for untrusted input.

Enough for RFC 3161 time-stamp tokens, whose CMS wrapping ``cryptography`` does not verify:
:func:`decode` parses one element and everything nested in it into :class:`Element` values
that keep their exact bytes (signatures cover bytes, not values). It accepts DER only —
definite, minimal lengths; no trailing bytes — and refuses hostile input with
:class:`DerError` (a :class:`FormatError`): truncation, lengths past the end, length fields
wider than 4 bytes, nesting deeper than :data:`MAX_DEPTH`. Work is linear in the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from constancia.errors import FormatError

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3
BOOLEAN, INTEGER, BIT_STRING, OCTET_STRING, NULL, OID = 1, 2, 3, 4, 5, 6
SEQUENCE, SET, GENERALIZED_TIME = 16, 17, 24

#: Deeper nesting than any certificate or CMS structure needs is refused, not recursed into.
MAX_DEPTH = 32
_MAX_TAG_BYTES = 4  # tag numbers up to 2^28
_MAX_LENGTH_BYTES = 4  # elements up to 4 GiB; the input is smaller anyway
_MAX_INT_BYTES = 128  # a serial number has at most 20; a nonce 8
_MAX_OID_BYTES = 64
_TIME = re.compile(rb"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d*[1-9]))?Z")
_CLASS_NAMES = ("universal", "application", "context", "private")


class DerError(FormatError):
    """The bytes are not the DER structure expected."""


@dataclass(frozen=True)
class Element:
    """One DER element: its identifier, where it lies in ``data``, and what it contains.

    ``children`` holds the parsed contents of a constructed element (empty for a primitive).
    """

    data: bytes
    start: int
    body: int  # where the contents begin (after tag and length)
    end: int
    cls: int
    constructed: bool
    tag: int
    children: tuple[Element, ...]

    @property
    def raw(self) -> bytes:
        """The element's complete encoding: identifier, length and contents."""
        return self.data[self.start : self.end]

    @property
    def value(self) -> bytes:
        """The contents octets."""
        return self.data[self.body : self.end]

    def is_(self, tag: int, cls: int = UNIVERSAL) -> bool:
        return self.cls == cls and self.tag == tag

    def expect(self, tag: int, cls: int = UNIVERSAL, *, what: str = "element") -> Element:
        """This element, if it has this tag; else DerError naming ``what`` was expected."""
        if not self.is_(tag, cls):
            raise DerError(f"{what}: expected {_tag_name(cls, tag)}, found {self.describe()}")
        return self

    def items(
        self, tag: int = SEQUENCE, cls: int = UNIVERSAL, *, what: str = "element"
    ) -> tuple[Element, ...]:
        """The children of a constructed element with this tag."""
        self.expect(tag, cls, what=what)
        if not self.constructed:
            raise DerError(f"{what}: {_tag_name(cls, tag)} must be constructed")
        return self.children

    def primitive(self, tag: int, *, what: str) -> bytes:
        self.expect(tag, what=what)
        if self.constructed:
            raise DerError(f"{what}: {_tag_name(UNIVERSAL, tag)} must be primitive in DER")
        return self.value

    def integer(self, *, what: str = "INTEGER") -> int:
        v = self.primitive(INTEGER, what=what)
        if not v:
            raise DerError(f"{what}: an INTEGER has no contents")
        if len(v) > _MAX_INT_BYTES:
            raise DerError(f"{what}: an INTEGER of {len(v)} bytes is too large")
        if len(v) > 1 and ((v[0] == 0 and v[1] < 0x80) or (v[0] == 0xFF and v[1] >= 0x80)):
            raise DerError(f"{what}: an INTEGER is not in its shortest form")
        return int.from_bytes(v, "big", signed=True)

    def oid(self, *, what: str = "OBJECT IDENTIFIER") -> str:
        return decode_oid(self.primitive(OID, what=what), what=what)

    def octets(self, *, what: str = "OCTET STRING") -> bytes:
        return self.primitive(OCTET_STRING, what=what)

    def boolean(self, *, what: str = "BOOLEAN") -> bool:
        v = self.primitive(BOOLEAN, what=what)
        if v not in (b"\x00", b"\xff"):
            raise DerError(f"{what}: a DER BOOLEAN is one byte, 00 or FF")
        return v == b"\xff"

    def null(self, *, what: str = "NULL") -> None:
        if self.primitive(NULL, what=what):
            raise DerError(f"{what}: a NULL has no contents")

    def generalized_time(self, *, what: str = "GeneralizedTime") -> datetime:
        """A DER GeneralizedTime (UTC, 'Z', no trailing zeros in the fraction)."""
        m = _TIME.fullmatch(self.primitive(GENERALIZED_TIME, what=what))
        if m is None:
            raise DerError(f"{what}: not a DER GeneralizedTime (YYYYMMDDhhmmss[.f]Z)")
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        micro = int((m.group(7) or b"0")[:6].ljust(6, b"0"))
        try:
            return datetime(y, mo, d, h, mi, s, micro, tzinfo=UTC)
        except ValueError:
            raise DerError(f"{what}: not a real date and time") from None

    def describe(self) -> str:
        return _tag_name(self.cls, self.tag)


def decode(data: bytes, *, what: str = "data") -> Element:
    """Parse ``data`` as exactly one DER element (and all it contains)."""
    data = bytes(data)
    if not data:
        raise DerError(f"{what} is empty")
    element, end = _parse(data, 0, len(data), 0, what)
    if end != len(data):
        raise DerError(f"{what} has {len(data) - end} bytes after its DER structure")
    return element


def _parse(data: bytes, pos: int, limit: int, depth: int, what: str) -> tuple[Element, int]:
    if depth > MAX_DEPTH:
        raise DerError(f"{what} is nested more than {MAX_DEPTH} levels deep")
    start = pos
    first = data[pos]
    cls, constructed, tag = first >> 6, bool(first & 0x20), first & 0x1F
    pos += 1
    if tag == 0x1F:  # high tag number form: base 128, most significant first
        tag = 0
        for count in range(_MAX_TAG_BYTES + 1):
            if pos >= limit:
                raise DerError(f"{what} is truncated inside a tag")
            if count == _MAX_TAG_BYTES:
                raise DerError(f"{what} has a tag number too large to be real")
            b = data[pos]
            pos += 1
            if count == 0 and b == 0x80:
                raise DerError(f"{what} has a tag number not in its shortest form")
            tag = (tag << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        if tag < 0x1F:
            raise DerError(f"{what} has a tag number not in its shortest form")
    if pos >= limit:
        raise DerError(f"{what} is truncated: a length is missing at byte {pos}")
    n = data[pos]
    pos += 1
    if n == 0x80:
        raise DerError(f"{what} uses an indefinite length (BER, not DER) at byte {start}")
    if n < 0x80:
        length = n
    else:
        width = n & 0x7F
        if width > _MAX_LENGTH_BYTES:
            raise DerError(f"{what} has a {width}-byte length field at byte {start}: too long")
        if pos + width > limit:
            raise DerError(f"{what} is truncated inside a length at byte {start}")
        length = int.from_bytes(data[pos : pos + width], "big")
        pos += width
        if length < 0x80 or length >> (8 * (width - 1)) == 0:
            raise DerError(f"{what} has a length not in its shortest form at byte {start}")
    end = pos + length
    if end > limit:
        raise DerError(
            f"{what} is truncated: an element at byte {start} claims {length} bytes "
            f"but {limit - pos} remain"
        )
    children: list[Element] = []
    if constructed:
        child_pos = pos
        while child_pos < end:
            child, child_pos = _parse(data, child_pos, end, depth + 1, what)
            children.append(child)
    element = Element(data, start, pos, end, cls, constructed, tag, tuple(children))
    return element, end


def decode_oid(v: bytes, *, what: str = "OBJECT IDENTIFIER") -> str:
    """The dotted form of an OBJECT IDENTIFIER's contents."""
    if not v or len(v) > _MAX_OID_BYTES:
        raise DerError(f"{what}: an OBJECT IDENTIFIER of {len(v)} bytes is not plausible")
    if v[-1] & 0x80:
        raise DerError(f"{what}: an OBJECT IDENTIFIER ends inside an arc")
    arcs: list[int] = []
    value = 0
    fresh = True
    for b in v:
        if fresh and b == 0x80:
            raise DerError(f"{what}: an OBJECT IDENTIFIER arc is not in its shortest form")
        value = (value << 7) | (b & 0x7F)
        fresh = not b & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    head = arcs[0]
    first = min(head // 40, 2)
    return ".".join(str(a) for a in (first, head - 40 * first, *arcs[1:]))


def _tag_name(cls: int, tag: int) -> str:
    names = {
        BOOLEAN: "BOOLEAN",
        INTEGER: "INTEGER",
        BIT_STRING: "BIT STRING",
        OCTET_STRING: "OCTET STRING",
        NULL: "NULL",
        OID: "OBJECT IDENTIFIER",
        SEQUENCE: "SEQUENCE",
        SET: "SET",
        GENERALIZED_TIME: "GeneralizedTime",
    }
    if cls == UNIVERSAL and tag in names:
        return names[tag]
    return f"[{_CLASS_NAMES[cls]} {tag}]"


# ---- writing: only what a time-stamp request needs -------------------------------------------


def encode(identifier: int, contents: bytes) -> bytes:
    """One element with a low tag number (identifier byte < 0x1F in its tag bits)."""
    n = len(contents)
    if n < 0x80:
        length = bytes([n])
    else:
        size = (n.bit_length() + 7) // 8
        length = bytes([0x80 | size]) + n.to_bytes(size, "big")
    return bytes([identifier]) + length + contents


def sequence(*parts: bytes) -> bytes:
    return encode(0x30, b"".join(parts))


def integer(n: int) -> bytes:
    size = (n if n >= 0 else ~n).bit_length() // 8 + 1
    return encode(INTEGER, n.to_bytes(size, "big", signed=True))


def boolean(value: bool) -> bytes:
    return encode(BOOLEAN, b"\xff" if value else b"\x00")


def null() -> bytes:
    return encode(NULL, b"")


def octet_string(value: bytes) -> bytes:
    return encode(OCTET_STRING, value)


def oid(dotted: str) -> bytes:
    first, second, *rest = (int(a) for a in dotted.split("."))
    out = bytearray()
    for arc in (40 * first + second, *rest):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return encode(OID, bytes(out))
