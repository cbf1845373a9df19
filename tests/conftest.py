"""Shared fixtures: an identity, an archive, and a way to run the CLI like a user."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from constancia.cli import cli

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="session")
def _identity_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One identity for the whole run (key derivation is slow by design); copied per test."""
    from archive.identity import create_identity

    mp = pytest.MonkeyPatch()
    mp.setenv("CONSTANCIA_KDF_ROUNDS", "1")
    home = tmp_path_factory.mktemp("identity-template")
    create_identity("Ana Pérez", PASSPHRASE, home)
    mp.undo()
    return home


@pytest.fixture
def home(tmp_path: Path, _identity_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CONSTANCIA_HOME holding Ana Pérez's identity; the passphrase in the environment."""
    home = tmp_path / "home"
    shutil.copytree(_identity_template, home)
    monkeypatch.setenv("CONSTANCIA_HOME", str(home))
    monkeypatch.setenv("CONSTANCIA_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CONSTANCIA_KDF_ROUNDS", "1")
    monkeypatch.delenv("CONSTANCIA_ARCHIVE", raising=False)
    monkeypatch.delenv("CONSTANCIA_DEBUG", raising=False)
    return home


Run = Callable[..., Result]


@pytest.fixture
def run(home: Path) -> Run:
    """Run `constancia ARGS...` in-process; returns click's Result (exit_code, stdout, stderr)."""

    def _run(
        *args: str | Path, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli, [str(a) for a in args], input=input, env=env, catch_exceptions=False
        )

    return _run


@pytest.fixture
def archive(run: Run, tmp_path: Path) -> Path:
    """A new, empty archive whose custodian is Ana Pérez."""
    path = tmp_path / "archive"
    result = run("init", path, "--name", "Archivo Prueba")
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def make_files(tmp_path: Path) -> Callable[..., Path]:
    """Write files into a fresh input folder: make_files({"a.txt": "text", "a.txt.yaml": ...})."""
    counter = iter(range(1000))

    def _make(files: dict[str, str | bytes]) -> Path:
        folder = tmp_path / f"input{next(counter)}"
        for name, content in files.items():
            p = folder / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content.encode() if isinstance(content, str) else content)
        return folder

    return _make


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "villa-quintral"


@pytest.fixture(scope="session")
def _filled_template(
    tmp_path_factory: pytest.TempPathFactory, _identity_template: Path
) -> tuple[Path, list[str]]:
    """One archive with the samples ingested (OCR is slow), copied for each test."""
    path = tmp_path_factory.mktemp("filled") / "archive"
    env = {
        "CONSTANCIA_HOME": str(_identity_template),
        "CONSTANCIA_PASSPHRASE": PASSPHRASE,
        "CONSTANCIA_KDF_ROUNDS": "1",
        "CONSTANCIA_ARCHIVE": "",
    }
    runner = CliRunner()
    made = runner.invoke(cli, ["init", str(path), "--name", "Archivo Prueba"], env=env)
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        cli, ["ingest", str(SAMPLES), "--archive", str(path), "--json", "--quiet"], env=env
    )
    assert result.exit_code == 0, result.output
    return path, [r["id"] for r in json_lines(result.stdout)]


@pytest.fixture
def filled(
    home: Path, _filled_template: tuple[Path, list[str]], tmp_path: Path
) -> tuple[Path, list[str]]:
    """An archive (custodian Ana Pérez) with the fictional samples ingested; IDs in order."""
    template, ids = _filled_template
    path = tmp_path / "archive"
    shutil.copytree(template, path, symlinks=True)
    (path / "lock").unlink(missing_ok=True)
    return path, ids


@pytest.fixture
def package(run: Run, filled: tuple[Path, list[str]], tmp_path: Path) -> Path:
    """An evidence package of two samples (a PDF and a text testimony)."""
    archive, ids = filled
    to = tmp_path / "package"
    result = run("export", ids[0], ids[1], "--to", to, "--archive", archive, "--recipient", "CV")
    assert result.exit_code == 0, result.output
    return to
