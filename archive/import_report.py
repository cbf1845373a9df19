"""What an import did: per artefact, and for the run (the ``imported`` event, ``--json``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from archive.import_source import SourcePlan

#: Outcomes that changed the receiving archive.
CHANGED = frozenset({"new", "revised", "received"})
#: bag-info.txt labels kept in the ``imported`` event (the file can be large; it is in the
#: bag, or kept whole with a package's history).
BAG_LABELS = (
    "Source-Organization",
    "Contact-Name",
    "External-Identifier",
    "External-Description",
    "Internal-Sender-Identifier",
    "Bagging-Date",
    "Payload-Oxum",
    "Constancia-Custodian",
    "Constancia-Exporter",
    "Constancia-Recipient",
)


@dataclass
class Outcome:
    """One artefact: ``new``, ``revised`` (new record versions), ``unchanged``; for a plain
    bag's files also ``received`` (known bytes, a new arrival recorded), ``rejected`` and
    ``skipped`` (with ``error``)."""

    id: str | None
    status: str
    versions: list[int] = field(default_factory=list)  # versions added to the object
    name: str | None = None  # the original's file name
    source: str | None = None  # a plain bag's payload file
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.versions:
            out["versions"] = self.versions
        if self.name is not None:
            out["name"] = self.name
        if self.source is not None:
            out["source"] = self.source
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class ImportReport:
    plan: SourcePlan
    outcomes: list[Outcome]
    accepted: str | None = None  # the reason given with --accept-unverified
    keys: list[str] = field(default_factory=list)  # fingerprints registered
    history: str | None = None  # custody/sources/... written by this run
    checkpoint_size: int | None = None  # signed by this run
    resumed: int = 0  # import events of an earlier run of this source that was interrupted
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def changed(self) -> bool:
        return bool(self.keys or self.history or any(o.status in CHANGED for o in self.outcomes))

    @property
    def ok(self) -> bool:
        return not any(o.status == "rejected" or o.error for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        counted = Counter(o.status for o in self.outcomes)
        return {s: counted.get(s, 0) for s in ("new", "revised", "unchanged")} | {
            s: n for s, n in sorted(counted.items()) if s not in ("new", "revised", "unchanged")
        }

    def accepted_json(self) -> dict[str, Any] | None:
        if self.accepted is None:
            return None
        codes = sorted({str(p.code) for p in self.plan.problems})
        return {"reason": self.accepted, "problems": codes}

    def event_details(self, events: int) -> dict[str, Any]:
        """The ``imported`` event: from where, what, how many, and the source's history."""
        source = self.plan.source_json()
        details: dict[str, Any] = {
            "from": source["path"],
            "kind": self.plan.kind,
            "origin": self.plan.origin,
            "name": self.plan.name,
            "checkpoint": source["checkpoint"],
            "package": self.plan.package,
            "history": self.plan.history_rel,
            "artefacts": self.counts(),
            "events": events,
            "keys": self.keys,
        }
        if self.resumed:
            details["resumed"] = self.resumed  # the interrupted run's import events
        if self.plan.kind != "archive":
            info = self.plan.bag_info
            details["bag_info"] = {k: info[k][:1000] for k in BAG_LABELS if k in info}
        accepted = self.accepted_json()
        if accepted is not None:
            details["accepted_unverified"] = accepted
        return details

    def to_json(self) -> dict[str, Any]:
        source = self.plan.source_json()
        return {
            "ok": self.ok,
            "source": source["path"],
            "kind": self.plan.kind,
            "origin": self.plan.origin,
            "checkpoint": source["checkpoint"],
            "package": self.plan.package,
            "history": self.plan.history_rel,
            "changed": self.changed,
            "counts": self.counts(),
            "keys": self.keys,
            "accepted_unverified": self.accepted_json(),
            "problems": [p.to_json() for p in self.plan.problems],
            "log_checkpoint": self.checkpoint_size,
            "artefacts": [o.to_json() for o in self.outcomes],
        }


class Progress(Protocol):
    def start(self, files: int, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def done(self, result: Any = None) -> None: ...


class NoProgress:
    def start(self, files: int, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def done(self, result: Any = None) -> None:
        pass
