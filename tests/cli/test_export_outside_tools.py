"""Every command VERIFY.txt gives a recipient runs verbatim and passes on a fresh package, and
fails once the package is tampered with. The tools are sha512sum, ssh-keygen, openssl, python3."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from archive.package_text import COMMAND_PREFIX

pytestmark = pytest.mark.skipif(
    not (shutil.which("ssh-keygen") and shutil.which("openssl") and shutil.which("python3")),
    reason="needs openssh-client, openssl and python3 (installed by .ci/run)",
)


def _commands(package: Path) -> list[str]:
    text = (package / "VERIFY.txt").read_text(encoding="utf-8")
    return [
        line[len(COMMAND_PREFIX) :] for line in text.splitlines() if line.startswith(COMMAND_PREFIX)
    ]


def _run(package: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=package, capture_output=True, text=True, timeout=120
    )


def test_verify_txt_names_every_tool(package: Path) -> None:
    joined = "\n".join(_commands(package))
    for tool in ("sha512sum -c", "ssh-keygen -Y verify", "openssl pkeyutl -verify", "verify.py"):
        assert tool in joined


def test_every_command_in_verify_txt_passes(package: Path) -> None:
    for command in _commands(package):
        done = _run(package, command)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def test_the_commands_catch_a_changed_original(package: Path) -> None:
    (original,) = next((package / "data" / "artefacts").iterdir()).glob("original/*")
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 1
    original.write_bytes(bytes(data))
    failed = [c for c in _commands(package) if _run(package, c).returncode != 0]
    assert any(c.startswith("sha512sum") for c in failed)
    assert any("verify.py" in c for c in failed)


def test_the_commands_catch_a_forged_checkpoint(package: Path) -> None:
    cp = package / "data" / "custody" / "checkpoint"
    lines = cp.read_text(encoding="utf-8").split("\n")
    lines[1] = str(int(lines[1]) + 1)
    cp.write_text("\n".join(lines), encoding="utf-8")
    failed = [c for c in _commands(package) if _run(package, c).returncode != 0]
    assert any(c.startswith("openssl pkeyutl") for c in failed)
    assert any("verify.py" in c for c in failed)
