"""A progress bar on stderr: files and bytes. Hidden when stderr is no terminal or --quiet."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Bar:
    """Draws ``label [#####.....] 12/40 files  1.2 MB/3.4 MB`` at most ten times a second."""

    def __init__(
        self, label: str, *, enabled: bool, stream: TextIO | None = None, after: Bar | None = None
    ) -> None:
        """``after``: a bar on the line above, ended when this one starts."""
        self.after = after
        self.closed = False
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.label = label
        self.files = 0
        self.total_files = 0
        self.bytes = 0
        self.total_bytes = 0
        self._last = 0.0

    @classmethod
    def for_stderr(cls, label: str, quiet: bool, after: Bar | None = None) -> Bar:
        return cls(label, enabled=not quiet and sys.stderr.isatty(), after=after)

    def start(self, files: int, total_bytes: int) -> None:
        if self.after is not None:
            self.after.close()
        self.total_files, self.total_bytes = files, total_bytes
        self._draw(force=True)

    def advance(self, nbytes: int) -> None:
        self.bytes += nbytes
        self._draw()

    def advance_files(self, n: int) -> None:
        """``n`` more files done (for work counted in files only, like indexing)."""
        self.files += n
        self._draw(force=self.files >= self.total_files)

    def done(self, result: Any = None) -> None:
        self.files += 1
        self._draw(force=self.files == self.total_files)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = (
            self.bytes / self.total_bytes
            if self.total_bytes
            else (self.files / self.total_files if self.total_files else 1.0)
        )
        width = 24
        filled = int(width * min(frac, 1.0))
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {self.files}/{self.total_files} files  "
            f"{_size(self.bytes)}/{_size(self.total_bytes)} "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.enabled and self._last:
            self.stream.write("\n")
            self.stream.flush()
