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


def record_text(record: Mapping[str, Any]) -> str:
    md = record.get("metadata", {})
    orig = record.get("original", {})
    ing = record.get("ingested", {})
    lines = [
        f"ID          {record.get('id')}",
        f"title       {md.get('title', '(untitled)')}",
        f"kind        {record.get('kind')}",
        f"file        {orig.get('name')}  ({orig.get('media_type')}, {orig.get('size')} bytes)",
        f"sha256      {orig.get('sha256')}",
        f"record      version {record.get('version')}",
        f"ingested    {ing.get('at')} by {ing.get('by', {}).get('name')} "
        f"({ing.get('by', {}).get('key')}) on {ing.get('host')}",
        f"from        {ing.get('source')}",
    ]
    for key in (
        "date",
        "created",
        "language",
        "places",
        "sensitivity",
        "source",
        "collected_by",
        "consent",
        "tags",
        "description",
    ):
        if key in md:
            value = md[key]
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            lines.append(f"{key:<11} {text}")
    if "people" in md:
        lines.append(f"{'people':<11} {_people(md['people'])}")
    known = {
        "title",
        "kind",
        "date",
        "created",
        "language",
        "places",
        "sensitivity",
        "source",
        "collected_by",
        "consent",
        "tags",
        "description",
        "people",
    }
    for key in sorted(set(md) - known):
        lines.append(f"{key:<11} {md[key]}")
    tech = record.get("technical") or {}
    if tech:
        lines.append(
            "technical   "
            + ", ".join(
                f"{k}={v}" for k, v in sorted(tech.items()) if not isinstance(v, dict | list)
            )
        )
    for w in record.get("warnings", []):
        lines.append(f"warning     {w}")
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
    }.get(str(event.get("action")), lambda: str(event.get("action")))()
    art = event.get("artefact")
    art_text = f" [{art[:12]}]" if isinstance(art, str) else ""
    actor = event.get("actor", {}).get("name")
    return f"#{event.get('seq'):<5} {event.get('time')}  {actor}: {what}{art_text}"
