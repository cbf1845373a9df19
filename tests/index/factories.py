"""A blank IndexDoc for index tests to fill in with dataclasses.replace."""

from __future__ import annotations

from index.documents import IndexDoc

BASE = IndexDoc(
    id="",
    sha256="",
    title="",
    text="",
    description="",
    people=(),
    places=(),
    tags=(),
    kind="testimony",
    language="es",
    sensitivity="restricted",
    date_start=None,
    date_end=None,
    created=None,
    ingested="2026-01-01T00:00:00Z",
    source="",
)
