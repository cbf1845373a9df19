"""`constancia timestamp request|attach`: files, exit codes, --json, and plain refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.archive.test_timestamp import LocalTSA
from tests.conftest import json_lines


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTSA:
    return LocalTSA(tmp_path_factory.mktemp("tsa-cli") / "Testigo")


@pytest.fixture
def answered(run, archive, tsa, tmp_path, monkeypatch) -> Path:
    """The TSA's answer to `constancia timestamp request` run in tmp_path."""
    monkeypatch.chdir(tmp_path)
    result = run("timestamp", "request", "--archive", archive)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "checkpoint-1.tsq")
    assert "curl" in result.stderr and "timestamp attach checkpoint-1.tsr" in result.stderr
    return tsa.reply(tmp_path / "checkpoint-1.tsq")


def _log(archive: Path) -> list[dict]:
    return json_lines((archive / "custody" / "log.jsonl").read_text())


def test_request_json_and_out(run, archive, tmp_path):
    out = tmp_path / "usb" / "q.tsq"
    out.parent.mkdir()
    result = run("timestamp", "request", "--archive", archive, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown) == {"checkpoint", "request", "kept", "sha256", "nonce", "reused"}
    assert (shown["checkpoint"], shown["request"], shown["reused"]) == (1, str(out), False)
    assert (archive / shown["kept"]).read_bytes() == out.read_bytes()


def test_attach_then_verify(run, archive, tsa, answered):
    result = run("timestamp", "attach", answered, "--ca", tsa.ca, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown) == {"checkpoint", "token", "ca", "gen_time", "tsa", "serial",
                          "token_sha256", "event", "log_checkpoint"}  # fmt: skip
    assert (shown["checkpoint"], shown["token"], shown["log_checkpoint"]) == (
        1, "custody/timestamps/1.tsr", 2,
    )  # fmt: skip
    assert (archive / shown["token"]).read_bytes() == answered.read_bytes()
    assert _log(archive)[-1]["action"] == "timestamp-attached"
    assert json.loads(run("verify", "--archive", archive, "--json").stdout)["ok"] is True
    again = run("timestamp", "attach", answered, "--ca", tsa.ca, "--archive", archive)
    assert again.exit_code == 2 and "already attached" in again.stderr


@pytest.mark.parametrize(
    "data", [b"", b"not a time-stamp response\n", None], ids=["empty", "garbage", "truncated"]
)
def test_bad_files_are_refused_with_exit_1_and_nothing_written(run, archive, tsa, answered, data):
    bad = answered.with_name("bad.tsr")
    bad.write_bytes(answered.read_bytes()[:-40] if data is None else data)
    before = (archive / "custody" / "log.jsonl").read_bytes()
    result = run("timestamp", "attach", bad, "--ca", tsa.ca, "--archive", archive)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"constancia: {bad}: ") and "hint:" in result.stderr
    assert "Traceback" not in result.output
    assert (archive / "custody" / "log.jsonl").read_bytes() == before
    assert not list((archive / "custody" / "timestamps").glob("*.tsr"))


def test_a_token_under_another_ca_exits_1(run, archive, tsa, answered, tmp_path):
    other = LocalTSA(tmp_path / "Otra")
    result = run("timestamp", "attach", answered, "--ca", other.ca, "--archive", archive)
    assert result.exit_code == 1 and "not issued by the given CA" in result.stderr


def test_usage_mistakes_exit_2(run, archive, answered):
    assert run("timestamp", "attach", answered, "--archive", archive).exit_code == 2  # no --ca
    missing = run("timestamp", "attach", "nowhere.tsr", "--ca", answered, "--archive", archive)
    assert missing.exit_code == 2
    not_ca = run("timestamp", "attach", answered, "--ca", answered, "--archive", archive)
    assert not_ca.exit_code == 2 and "is not a certificate" in not_ca.stderr
