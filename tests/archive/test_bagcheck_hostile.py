"""Hostile packages give findings, never tracebacks, hangs or reads outside the bag."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import bagcheck, sshsig
from archive.findings import Code
from tests.archive.package_factory import build_package, codes, copy_package


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, _identity_template: Path) -> Path:
    return build_package(tmp_path_factory.mktemp("bagcheck-hostile"), _identity_template)


@pytest.fixture
def bag(template: Path, tmp_path: Path) -> Path:
    return copy_package(template, tmp_path / "bag")


def test_huge_line_without_newline(bag: Path) -> None:
    with open(bag / "data/custody/events.jsonl", "ab") as f:
        f.write(b"[" * (20 << 20))
    assert "LOG_LINE_INVALID" in codes(bag)


def test_deeply_nested_json(bag: Path) -> None:
    with open(bag / "data/custody/proofs.jsonl", "ab") as f:
        f.write(b"[" * 50_000 + b"\n")
    assert "INCLUSION_PROOF_INVALID" in codes(bag)


def test_binary_junk_in_bag_info(bag: Path) -> None:
    (bag / "bag-info.txt").write_bytes(os.urandom(4096) + b"\xff")
    assert "BAG_INVALID" in codes(bag)


def test_a_pipe_in_data_is_not_opened(bag: Path) -> None:
    os.mkfifo(bag / "data" / "pipe")  # opening it to read would block for ever
    assert "UNEXPECTED_FILE" in codes(bag)


def test_data_as_a_symlink_is_not_followed(bag: Path, tmp_path: Path) -> None:
    shutil.move(bag / "data", tmp_path / "real-data")
    (bag / "data").symlink_to(tmp_path / "real-data")
    assert "UNEXPECTED_FILE" in codes(bag)
    assert bagcheck.check_package(bag)["artefacts"] == 0


def test_name_that_is_not_utf8_gives_printable_json(bag: Path) -> None:
    os.close(os.open(os.fsencode(bag / "data") + b"/caf\xe9", os.O_CREAT | os.O_WRONLY))
    verdict = bagcheck.check_package(bag)
    found = [p for p in verdict["problems"] if p["code"] == "UNEXPECTED_FILE"]
    assert [p["path"] for p in found] == ["data/caf\\xe9"]
    json.dumps(verdict, ensure_ascii=False).encode("utf-8")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.integers(0, 1000), st.binary(max_size=2000), st.integers(0, 10_000))
def test_any_damage_to_any_file_is_a_finding(bag: Path, pick: int, junk: bytes, at: int) -> None:
    files = sorted(p for p in bag.rglob("*") if p.is_file())
    path = files[pick % len(files)]
    kept = path.read_bytes()
    damaged = kept[:at] + junk + kept[at + len(junk) :]
    try:
        path.write_bytes(damaged)
        verdict = bagcheck.check_package(bag, ed25519_verify=sshsig.ed25519_verify)
    finally:
        path.write_bytes(kept)
    assert verdict["ok"] == (damaged == kept)
    assert {p["code"] for p in verdict["problems"]} <= {str(c) for c in Code}
