"""Verification findings: every problem has a stable code (tests assert codes, not wording)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Code(StrEnum):
    """Stable finding codes. Never rename one: auditors' scripts match on them."""

    # Originals and OCFL objects
    FIXITY_MISMATCH = "FIXITY_MISMATCH"  # a file's bytes differ from its inventory digest
    FILE_MISSING = "FILE_MISSING"  # a file the inventory lists is gone
    UNEXPECTED_FILE = "UNEXPECTED_FILE"  # a file in the object that no inventory lists
    INVENTORY_MISSING = "INVENTORY_MISSING"
    INVENTORY_INVALID = "INVENTORY_INVALID"  # not JSON, or not a valid OCFL inventory
    INVENTORY_DIGEST_MISMATCH = "INVENTORY_DIGEST_MISMATCH"  # inventory.json.sha512 differs
    OBJECT_INVALID = "OBJECT_INVALID"  # namaste, layout, version folders
    # Records and their signatures
    RECORD_MISSING = "RECORD_MISSING"
    RECORD_INVALID = "RECORD_INVALID"
    RECORD_DIGEST_MISMATCH = "RECORD_DIGEST_MISMATCH"  # the signed record's digests vs original
    SIGNATURE_MISSING = "SIGNATURE_MISSING"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    SIGNER_UNKNOWN = "SIGNER_UNKNOWN"  # signed by a key not registered in keys/
    # The custody log
    LOG_MISSING = "LOG_MISSING"
    LOG_LINE_INVALID = "LOG_LINE_INVALID"  # not canonical JSON, or not an event
    EVENT_SIGNATURE_INVALID = "EVENT_SIGNATURE_INVALID"
    LOG_EVENT_MISSING = "LOG_EVENT_MISSING"  # a gap in sequence numbers: a deleted line
    LOG_OUT_OF_ORDER = "LOG_OUT_OF_ORDER"  # sequence numbers go backwards: reordered lines
    LOG_EVENT_DUPLICATED = "LOG_EVENT_DUPLICATED"  # the same sequence number twice
    LOG_TRUNCATED = "LOG_TRUNCATED"  # fewer events than the latest checkpoint covers
    LOG_TORN_WRITE = "LOG_TORN_WRITE"  # a last line without newline: an interrupted append
    LOG_ROOT_MISMATCH = "LOG_ROOT_MISMATCH"  # the log's Merkle root differs from the checkpoint
    LOG_UNCHECKPOINTED = "LOG_UNCHECKPOINTED"  # events past the latest checkpoint
    EVENT_RECORD_MISMATCH = "EVENT_RECORD_MISMATCH"  # the ingest event names another record
    ARTEFACT_NOT_IN_LOG = "ARTEFACT_NOT_IN_LOG"  # an object without its ingest event
    ARTEFACT_MISSING = "ARTEFACT_MISSING"  # an ingest event whose object is gone
    # Checkpoints
    CHECKPOINT_MISSING = "CHECKPOINT_MISSING"
    CHECKPOINT_INVALID = "CHECKPOINT_INVALID"  # malformed note or body
    CHECKPOINT_SIGNATURE_INVALID = "CHECKPOINT_SIGNATURE_INVALID"
    CHECKPOINT_INCONSISTENT = "CHECKPOINT_INCONSISTENT"  # a later log does not extend it
    # Keys and settings
    KEY_INVALID = "KEY_INVALID"
    SETTINGS_INVALID = "SETTINGS_INVALID"
    # Evidence packages (BagIt) and imported histories
    BAG_INVALID = "BAG_INVALID"  # bagit.txt, bag-info.txt or a manifest is malformed
    PAYLOAD_OXUM_MISMATCH = "PAYLOAD_OXUM_MISMATCH"  # payload size or count differs from bag-info
    INCLUSION_PROOF_INVALID = "INCLUSION_PROOF_INVALID"  # an event's proof misses the checkpoint
    SOURCE_HISTORY_INVALID = "SOURCE_HISTORY_INVALID"  # an imported log no longer proves out
    # Trusted time
    TIMESTAMP_INVALID = "TIMESTAMP_INVALID"  # a stored RFC 3161 token does not verify
    # Interrupted work that the next writing command finishes or cleans up
    INCOMPLETE_INGEST = "INCOMPLETE_INGEST"
    INTERRUPTED_WRITE = "INTERRUPTED_WRITE"  # a temporary file a killed command left behind


#: Codes that describe interrupted work a later command repairs, not damage.
RECOVERABLE = frozenset(
    {Code.INCOMPLETE_INGEST, Code.INTERRUPTED_WRITE, Code.LOG_TORN_WRITE, Code.LOG_UNCHECKPOINTED}
)


@dataclass(frozen=True)
class Finding:
    """One problem: what (code), which artefact (id), which file (path, archive-relative)."""

    code: Code
    message: str
    id: str | None = None
    path: str | None = None

    def to_json(self) -> dict[str, str | None]:
        d = asdict(self)
        d["code"] = str(self.code)
        return {"code": d["code"], "id": self.id, "path": self.path, "message": self.message}
