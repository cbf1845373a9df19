"""artefacts/ stands alone: it imports no later layer, and no heavy library at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "artefacts"


def test_artefacts_imports_no_later_layer() -> None:
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"archive", "index", "ingest"}, (source, name)


def test_importing_the_handlers_loads_neither_pillow_nor_pypdf() -> None:
    code = (
        "import sys, artefacts.metadata, artefacts.media, artefacts.handlers;"
        "print(sorted(m for m in ('PIL', 'pypdf') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
