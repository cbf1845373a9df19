"""Evidence packages for the checker's tests, made by the real exporter from a tiny archive,
and small helpers to damage them the way an attacker or a bad copy would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from archive import bagcheck, package_text
from archive.export import PACKAGE_NAMESPACE
from archive.hashing import hash_file, sha256_hex, sha512_hex
from archive.identity import unlock
from constancia.cli import cli
from tests.conftest import PASSPHRASE

TESTIMONIES = {
    "testimonio-ana.txt": "Vi llegar los camiones a la plaza a las seis de la mañana.\n",
    "testimonio-luis.txt": "Nos llevaron a la escuela; allí estuvimos tres días.\n",
}


def build_package(work: Path, identity_home: Path) -> Path:
    """An archive of two testimonies (custodian: the identity in ``identity_home``) and the
    package `constancia export` writes of both, at ``work/package``."""
    env = {
        "CONSTANCIA_HOME": str(identity_home),
        "CONSTANCIA_PASSPHRASE": PASSPHRASE,
        "CONSTANCIA_KDF_ROUNDS": "1",
        "CONSTANCIA_ARCHIVE": "",
    }
    inputs = work / "inputs"
    inputs.mkdir()
    for name, text in TESTIMONIES.items():
        (inputs / name).write_text(text, encoding="utf-8")
    runner = CliRunner()

    def run(*args: str | Path) -> str:
        result = runner.invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    archive = work / "archive"
    run("init", archive, "--name", "Archivo Prueba")
    out = run("ingest", inputs, "--archive", archive, "--json", "--quiet")
    ids = [json.loads(line)["id"] for line in out.splitlines() if line.strip()]
    run("export", *ids, "--to", work / "package", "--archive", archive, "--recipient", "CV")
    return work / "package"


def copy_package(template: Path, to: Path) -> Path:
    shutil.copytree(template, to, symlinks=True)
    return to


def codes(root: Path, **kwargs: Any) -> set[str]:
    """The finding codes the checker reports for the package at ``root``."""
    return {p["code"] for p in bagcheck.check_package(root, **kwargs)["problems"]}


def originals(bag: Path) -> list[Path]:
    return sorted((bag / "data" / "artefacts").glob("*/original/*"))


def records(bag: Path) -> list[Path]:
    return sorted((bag / "data" / "artefacts").glob("*/record.json"))


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def bag_info(bag: Path) -> dict[str, str]:
    text = (bag / "bag-info.txt").read_text(encoding="utf-8")
    return dict(line.split(": ", 1) for line in text.splitlines())


def reseal(bag: Path, identity_home: Path, *, payload: bool = True) -> None:
    """Sign the package again after a deliberate change, as the exporter would: payload
    manifests and Payload-Oxum from the files on disk (unless ``payload`` is false), tag
    manifests, and the tag manifest's signature by the identity in ``identity_home``."""
    if payload:
        files = sorted(p for p in (bag / "data").rglob("*") if p.is_file())
        digests = {p.relative_to(bag).as_posix(): hash_file(p) for p in files}
        for bits in ("256", "512"):
            listed = {rel: getattr(d, f"sha{bits}") for rel, d in digests.items()}
            (bag / f"manifest-sha{bits}.txt").write_bytes(package_text.manifest(listed))
        oxum = f"{sum(d.size for d in digests.values())}.{len(digests)}"
        info = bag / "bag-info.txt"
        old = bag_info(bag)["Payload-Oxum"]
        info.write_text(info.read_text(encoding="utf-8").replace(old, oxum), encoding="utf-8")
    tags = {name: (bag / name).read_bytes() for name in bagcheck.TAG_FILES}
    tag512 = package_text.manifest({k: sha512_hex(v) for k, v in tags.items()})
    (bag / "tagmanifest-sha256.txt").write_bytes(
        package_text.manifest({k: sha256_hex(v) for k, v in tags.items()})
    )
    (bag / "tagmanifest-sha512.txt").write_bytes(tag512)
    signer = unlock(PASSPHRASE, identity_home)
    (bag / "tagmanifest-sha512.txt.sig").write_text(signer.sign_sshsig(tag512, PACKAGE_NAMESPACE))
