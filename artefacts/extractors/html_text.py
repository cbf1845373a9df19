"""HTML (and SVG) to text with the standard library's lenient parser.

Scripts, styles and templates are dropped; entities are decoded; block elements (paragraphs,
headings, list items, table rows, ``<br>``) become line breaks and table cells tabs; ``<pre>``
keeps its spacing. The charset comes from a byte order mark, then a ``<meta>`` declaration in
the first 1024 bytes (as browsers look for it), then UTF-8 / Windows-1252 detection.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from artefacts.extractors.plain import decode_text, read_head
from artefacts.extractors.result import ExtractedText, ExtractRequest

#: Saved web pages are rarely larger; beyond this only the start is read.
HTML_MAX_BYTES = 16 * 1024 * 1024
_CHUNK_CHARS = 256 * 1024

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_SKIP = frozenset({"script", "style", "template", "noembed", "noframes"})
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl"}
    | {"figure", "address", "hr", "section", "article", "header", "footer", "main", "aside"}
)
_LINE = frozenset(
    {"br", "div", "li", "tr", "dt", "dd", "title", "caption", "figcaption", "nav", "form"}
    | {"fieldset", "legend", "details", "summary", "option", "body", "html", "head", "text"}
)
_CELL = frozenset({"td", "th"})
_SPACE = re.compile(r"\s+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.lang: str | None = None
        self._skip = 0
        self._pre = 0
        self._newlines = 2  # as if after a paragraph: no breaks before the first text

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def _ensure_newlines(self, count: int) -> None:
        # Nested blocks (</td></tr><tr>) make one break, not one per tag.
        if self._newlines < count:
            self._emit("\n" * (count - self._newlines))
            self._newlines = count

    def _break(self, tag: str, *, opening: bool) -> None:
        if tag == "br":
            self._emit("\n")
            self._newlines += 1
        elif tag in _PARAGRAPH:
            self._ensure_newlines(2)
        elif tag in _LINE:
            self._ensure_newlines(1)
        elif tag in _CELL and opening:
            # Only before a cell, since HTML lets </td> be left out; a tab after a line
            # break is trimmed later.
            self._emit("\t")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            return
        if tag == "html" and self.lang is None:
            self.lang = next((v.strip() for k, v in attrs if k == "lang" and v), None)
        if tag == "pre":
            self._pre += 1
        self._break(tag, opening=True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/>, <script/>: a break, but nothing opened that would need closing.
        if tag not in _SKIP:
            self._break(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        self._break(tag, opening=False)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        text = data if self._pre else _SPACE.sub(" ", data)
        if text.isspace() and self._newlines:
            return  # the indentation between block tags
        self._emit(text)
        self._newlines = 0


def _charset(head: bytes) -> str | None:
    m = _META_CHARSET.search(head[:1024])
    return m.group(1).decode("ascii") if m else None


def extract_html(request: ExtractRequest) -> ExtractedText:
    """The visible text of an HTML page, with its ``<html lang>`` as the language hint."""
    data, complete = read_head(request.path, HTML_MAX_BYTES)
    source, encoding = decode_text(data, complete=complete, declared=_charset(data))
    del data
    parser = _TextCollector()
    truncated = not complete
    for start in range(0, len(source), _CHUNK_CHARS):
        if parser.size > request.max_chars or request.out_of_time():
            truncated = True
            break
        parser.feed(source[start : start + _CHUNK_CHARS])
    else:
        parser.close()
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(parser.parts))
    return ExtractedText(
        text=text, method=f"html:{encoding}", language_hint=parser.lang, truncated=truncated
    )
