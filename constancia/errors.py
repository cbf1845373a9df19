"""The one error root of Constancia, and the exit codes.

This module imports nothing else of ours, so every layer can raise these errors. The command
line catches :class:`ConstanciaError` in one place, prints one plain sentence and a hint, and
exits with :attr:`ConstanciaError.exit_code`.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Exit status of every command (DESIGN.md)."""

    OK = 0
    PROBLEMS = 1  # verification failed, some inputs rejected
    CANNOT_RUN = 2  # usage, no archive, bad passphrase


class ConstanciaError(Exception):
    """Something the user can understand and act on.

    ``message`` is one plain sentence; ``path`` and ``line`` say where; ``hint`` says what to do.
    """

    exit_code: ExitCode = ExitCode.CANNOT_RUN

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if self.line is not None:
                where += f", line {self.line}"
            where += ": "
        return f"{where}{self.message}"


class UsageError(ConstanciaError):
    """The command was called in a way that cannot work."""


class ArchiveNotFound(ConstanciaError):
    """The folder is not a Constancia archive."""


class ArchiveBusy(ConstanciaError):
    """Another process holds the archive's lock."""


class IdentityError(ConstanciaError):
    """No identity, or it cannot be unlocked (wrong passphrase)."""


class MetadataError(ConstanciaError):
    """A metadata sidecar cannot be read or does not follow the schema."""

    exit_code = ExitCode.PROBLEMS


class SignatureError(ConstanciaError):
    """A signature is malformed or does not verify."""

    exit_code = ExitCode.PROBLEMS


class FormatError(ConstanciaError):
    """A file of ours (inventory, checkpoint, log line, key) is malformed."""

    exit_code = ExitCode.PROBLEMS


class ProofError(ConstanciaError):
    """A Merkle inclusion or consistency proof does not verify."""

    exit_code = ExitCode.PROBLEMS


class StorageError(ConstanciaError):
    """Writing to the archive failed (disk full, permissions)."""


class ArchiveDamaged(ConstanciaError):
    """A writing command found the archive damaged and wrote nothing (run `verify`)."""
