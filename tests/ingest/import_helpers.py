"""Fixtures and helpers shared by the import tests: a field archive kept by a second person,
a snapshot of every byte of an archive, and a way to rewrite a file inside an OCFL object
so that only what the test means to break is broken."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import PASSPHRASE, Run

FIELD_FILES: dict[str, str | bytes] = {
    "testimonio-01.txt": "Relato de la detención en la plaza de Villa Quintral, 1974.",
    "testimonio-01.txt.yaml": "title: Testimonio uno\nlanguage: es\nplaces: [Villa Quintral]\n",
    "carta.txt": "Carta de una madre que busca a su hijo desaparecido.",
    "notas.md": "# Notas de campo\n\nEntrevista grabada en la parroquia.",
}


@pytest.fixture
def field_home(tmp_path: Path, home: Path) -> Path:
    """CONSTANCIA_HOME of Bruno Díaz, the documenter who keeps the field archive."""
    from archive.identity import create_identity

    folder = tmp_path / "field-home"
    create_identity("Bruno Díaz", PASSPHRASE, folder)
    return folder


@pytest.fixture
def field_run(run: Run, field_home: Path) -> Run:
    """`constancia ...` as Bruno Díaz."""

    def _run(*args: str | Path, **kw: object) -> Result:
        return run(*args, env={"CONSTANCIA_HOME": str(field_home)}, **kw)

    return _run


@pytest.fixture
def field(field_run: Run, make_files: Callable[..., Path], tmp_path: Path) -> Path:
    """A field archive (custodian Bruno Díaz) holding three testimonies."""
    path = tmp_path / "field"
    assert field_run("init", path, "--name", "Campo Norte").exit_code == 0
    done = field_run("ingest", make_files(FIELD_FILES), "--archive", path, "-q")
    assert done.exit_code == 0, done.output
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links not followed): relative path -> SHA-256."""
    out = {}
    for top, _dirs, names in os.walk(root):
        for name in names:
            p = Path(top) / name
            data = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
            out[p.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()
    return out


def objects(archive: Path) -> list[Path]:
    return sorted(p.parent for p in (archive / "objects").rglob("0=ocfl_object_1.1"))


def rewrite_content(obj: Path, logical: str, data: bytes) -> None:
    """Replace a v1 file of an object and fix every inventory digest, so that only what the
    file's own meaning says (a signature, a record) is wrong, not the OCFL fixity."""
    content = f"v1/content/{logical}"
    target = obj / content
    target.chmod(0o644)
    target.write_bytes(data)
    sha512, sha256 = hashlib.sha512(data).hexdigest(), hashlib.sha256(data).hexdigest()
    inv = json.loads((obj / "inventory.json").read_text())
    for table, new in ((inv["manifest"], sha512), (inv["fixity"]["sha256"], sha256)):
        old = next(d for d, paths in table.items() if content in paths)
        table[old] = [p for p in table[old] if p != content]
        if not table[old]:
            del table[old]
        table.setdefault(new, []).append(content)
    for block in inv["versions"].values():
        state = block["state"]
        for d, paths in list(state.items()):
            if logical in paths and d != sha512:
                state[d] = [p for p in paths if p != logical]
                if not state[d]:
                    del state[d]
                state.setdefault(sha512, []).append(logical)
    raw = (json.dumps(inv, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    side = f"{hashlib.sha512(raw).hexdigest()} inventory.json\n".encode()
    for folder in (obj, obj / "v1"):
        (folder / "inventory.json").write_bytes(raw)
        (folder / "inventory.json.sha512").write_bytes(side)


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst
