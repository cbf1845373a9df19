"""`constancia init`: its JSON, the public keys it publishes, and who may write afterwards."""

from __future__ import annotations

import json
import subprocess

import pytest

from archive.identity import create_identity
from tests.conftest import json_lines


def test_init_json_fields(run, tmp_path):
    result = run("init", tmp_path / "arch", "--name", "Archivo Sur", "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    me = json.loads(run("identity", "show", "--json").stdout)
    assert set(made) == {"path", "name", "origin", "custodian", "fingerprint"}
    assert made["path"] == str(tmp_path / "arch") and made["name"] == "Archivo Sur"
    assert (made["custodian"], made["fingerprint"]) == (me["name"], me["fingerprint"])
    assert made["origin"] == (tmp_path / "arch/custody/checkpoint").read_text().split("\n")[0]


def test_keys_folder_publishes_the_custodian_for_outside_tools(run, archive, home):
    keys = archive / "keys"
    (pub,) = keys.glob("*.pub")
    assert sorted(p.name for p in keys.iterdir()) == sorted(
        [pub.name, pub.with_suffix(".pem").name, "allowed_signers"]
    )
    fingerprint = json.loads(run("identity", "show", "--json").stdout)["fingerprint"]
    keygen = subprocess.run(["ssh-keygen", "-l", "-f", pub], capture_output=True, text=True)
    assert keygen.stdout.split()[1] == fingerprint
    pem = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", pub.with_suffix(".pem"), "-noout", "-text"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert pem.returncode == 0 and pem.stdout.startswith("ED25519 Public-Key")
    principal, *key = (keys / "allowed_signers").read_text().split()
    assert principal == pub.stem and key == pub.read_text().split()[:2]


def test_init_refuses_an_existing_archive(run, archive):
    log = (archive / "custody" / "log.jsonl").read_bytes()
    result = run("init", archive)
    assert result.exit_code == 2 and result.stderr.startswith("constancia: ")
    assert (archive / "custody" / "log.jsonl").read_bytes() == log


@pytest.mark.parametrize("command", [["ingest", "{src}"], ["verify", "--record"]])
def test_only_the_custodian_writes(run, archive, make_files, tmp_path, command):
    create_identity("Bea Soto", "otra clave", tmp_path / "bea")
    src = make_files({"a.txt": "uno"})
    log = (archive / "custody" / "log.jsonl").read_bytes()
    args = [a.format(src=src) for a in command]
    env = {"CONSTANCIA_HOME": str(tmp_path / "bea"), "CONSTANCIA_PASSPHRASE": "otra clave"}
    result = run(*args, "--archive", archive, env=env)
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first == (
        "constancia: this archive's custodian is Ana Pérez; your identity (Bea Soto) cannot "
        "sign its checkpoints"
    )
    assert (archive / "custody" / "log.jsonl").read_bytes() == log
    assert json_lines(result.stdout) == []
