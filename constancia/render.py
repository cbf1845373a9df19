"""Text for people: records, custody events, verification reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _people(value: Any) -> str:
    if not isinstance(value, list):
        return str(value)
    parts = []
    for p in value:
        if isinstance(p, Mapping):
            role = f" ({p['role']})" if p.get("role") else ""
            parts.append(f"{p.get('name')}{role}")
        else:
            parts.append(str(p))
    return "; ".join(parts)


_SHOWN = (
    "date", "created", "language", "places", "sensitivity", "source", "collected_by",
    "consent", "tags", "description",
)  # fmt: skip


def _row(label: str, value: object) -> str:
    return f"{label:<13}{value}"


def record_text(record: Mapping[str, Any]) -> str:
    md = record.get("metadata", {})
    orig = record.get("original", {})
    ing = record.get("ingested", {})
    by = ing.get("by", {})
    lines = [
        _row("ID", record.get("id")),
        _row("title", md.get("title", "(untitled)")),
        _row("kind", record.get("kind")),
        _row("file", f"{orig.get('name')}  ({orig.get('media_type')}, {orig.get('size')} bytes)"),
        _row("sha256", orig.get("sha256")),
        _row("record", f"version {record.get('version')}"),
        _row(
            "ingested",
            f"{ing.get('at')} by {by.get('name')} ({by.get('key')}) on {ing.get('host')}",
        ),
        _row("from", ing.get("source")),
    ]
    for key in _SHOWN:
        if key in md:
            value = md[key]
            lines.append(
                _row(key, ", ".join(map(str, value)) if isinstance(value, list) else value)
            )
    if "people" in md:
        lines.append(_row("people", _people(md["people"])))
    for key in sorted(set(md) - {*_SHOWN, "title", "kind", "people"}):
        lines.append(_row(key, md[key]))
    tech = _flatten(record.get("technical") or {})
    if tech:
        lines.append(
            _row(
                "technical",
                ", ".join(f"{k}={v}" for k, v in sorted(tech.items()) if not isinstance(v, list)),
            )
        )
    for w in record.get("warnings", []):
        lines.append(_row("warning", w))
    return "\n".join(lines)


def event_text(event: Mapping[str, Any]) -> str:
    d = event.get("details", {})
    what = {
        "ingest": lambda: f"ingested {d.get('name')} from {d.get('source')}",
        "duplicate-received": lambda: f"received again as {d.get('name')} from {d.get('source')}",
        "key-registered": lambda: f"registered key {d.get('fingerprint')} ({d.get('role')})",
        "fixity-check": lambda: (
            f"fixity check: {d.get('outcome')}, {d.get('artefacts')} artefacts, "
            f"{d.get('problems')} problem(s)"
        ),
        "exported": lambda: (
            f"exported {_count(d.get('artefacts'))} artefact(s) as {d.get('package')}"
            + (f" for {d.get('recipient')}" if d.get("recipient") else "")
        ),
        "import": lambda: f"imported {d.get('name')} from {_source(d.get('source'))}",
        "imported": lambda: f"import from {d.get('from') or _source(d.get('source'))}",
        "derived-added": lambda: f"added derived files ({d.get('reason')})",
        "timestamp-attached": lambda: (
            f"trusted time for checkpoint {d.get('checkpoint')}: {d.get('gen_time')} "
            f"from {d.get('tsa')}"
        ),
    }.get(str(event.get("action")), lambda: str(event.get("action")))()
    art = event.get("artefact")
    art_text = f" [{art[:12]}]" if isinstance(art, str) else ""
    actor = event.get("actor", {}).get("name")
    return f"#{event.get('seq'):<5} {event.get('time')}  {actor}: {what}{art_text}"


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _source(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("path") or value.get("origin"))
    return str(value)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"gps": {"latitude": 1}} -> {"gps.latitude": 1}, for one line of text."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
