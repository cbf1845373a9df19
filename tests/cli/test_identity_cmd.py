"""`constancia identity create|show`: the passphrase, never overwriting, ssh-keygen agreeing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click.testing
import pytest

from archive.identity import unlock
from tests.conftest import PASSPHRASE


@pytest.fixture
def bare_home(tmp_path, monkeypatch, home) -> Path:
    """An empty CONSTANCIA_HOME and no passphrase in the environment (after `home` set both)."""
    folder = tmp_path / "bea"
    monkeypatch.setenv("CONSTANCIA_HOME", str(folder))
    monkeypatch.delenv("CONSTANCIA_PASSPHRASE")
    return folder


def test_create_without_passphrase_or_terminal_is_one_plain_sentence(run, bare_home):
    result = run("identity", "create", "--name", "Bea", input="pw\npw\n")
    assert result.exit_code == 2
    first, *rest = result.stderr.splitlines()
    assert first == "constancia: no passphrase given"
    assert rest == [
        "  hint: set CONSTANCIA_PASSPHRASE, or run the command in a terminal to be asked"
    ]
    assert "Traceback" not in result.output and not (bare_home / "identity.key").exists()


def test_create_asks_twice_in_a_terminal(run, bare_home, monkeypatch):
    # CliRunner's stdin is no terminal; pretend it is, to reach click's hidden prompt.
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    # A passphrase with a space: it cannot occur by chance in the base64 key line printed.
    result = run("identity", "create", "--name", "Bea", input="mi clave\nmi clave\n")
    assert result.exit_code == 0, result.output
    assert "mi clave" not in result.output  # never echoed
    assert unlock("mi clave", bare_home).identity.name == "Bea"


def test_prompt_left_without_an_answer_cannot_run(run, bare_home, monkeypatch):
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    result = run("identity", "create", "--name", "Bea", input="pw\notra\n")  # then EOF
    assert not (bare_home / "identity.key").exists()
    assert result.exit_code == 2


def test_create_refuses_to_overwrite_an_identity(run, home):
    before = (home / "identity.key").read_bytes()
    result = run("identity", "create", "--name", "Otra Persona")
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "never overwritten" in result.stderr
    assert (home / "identity.key").read_bytes() == before
    assert unlock(PASSPHRASE, home).identity.name == "Ana Pérez"


def test_show_agrees_with_ssh_keygen(run, home):
    result = run("identity", "show")
    assert result.exit_code == 0
    rows = dict(
        line.split(None, 1) for line in result.stdout.replace("public key", "key").splitlines()
    )
    keygen = subprocess.run(
        ["ssh-keygen", "-l", "-f", home / "identity.pub"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert keygen[:2] == ["256", rows["fingerprint"]] and keygen[-1] == "(ED25519)"
    assert rows["name"] == "Ana Pérez" == " ".join(keygen[2:-1])
    assert rows["key"] == (home / "identity.pub").read_text().strip()


def test_show_json(run, home):
    shown = json.loads(run("identity", "show", "--json").stdout)
    assert shown == {
        "name": "Ana Pérez",
        "fingerprint": unlock(PASSPHRASE, home).identity.fingerprint,
        "public_key": (home / "identity.pub").read_text().strip(),
    }


def test_create_json(run, bare_home):
    result = run(
        "identity", "create", "--name", "Bea", "--json", env={"CONSTANCIA_PASSPHRASE": "pw"}
    )
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["name"] == "Bea" and made["home"] == str(bare_home)
    assert made["public_key"] == (bare_home / "identity.pub").read_text().strip()
    assert made == {**json.loads(run("identity", "show", "--json").stdout), "home": str(bare_home)}
