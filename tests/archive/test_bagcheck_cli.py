"""verify.py as a recipient runs it: standard library only, exit codes, readable verdicts."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from archive import bagcheck
from archive.findings import Code
from tests.archive.package_factory import bag_info, build_package, copy_package, originals

SOURCE = Path(bagcheck.__file__)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, _identity_template: Path) -> Path:
    return build_package(tmp_path_factory.mktemp("bagcheck-cli"), _identity_template)


@pytest.fixture
def bag(template: Path, tmp_path: Path) -> Path:
    return copy_package(template, tmp_path / "bag")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """verify.py as `python3 -I -S`: isolated, and without site-packages."""
    command = [sys.executable, "-I", "-S", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", check=False)


def test_imports_only_the_standard_library() -> None:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    tops = {name.split(".")[0] for name in imported}
    assert tops and tops <= set(sys.stdlib_module_names) | {"__future__"}


def test_every_code_it_reports_is_a_finding_code() -> None:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    reported = {
        n.args[0].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "add"
        and n.args
        and isinstance(n.args[0], ast.Constant)
    }
    assert len(reported) >= 20
    assert reported <= {str(c) for c in Code}


def test_help_runs_without_site_packages() -> None:
    done = run(SOURCE, "--help")
    assert done.returncode == 0
    assert "--custodian" in done.stdout


def test_inside_the_bag_it_checks_its_own_folder(bag: Path) -> None:
    done = run(bag / "verify.py")
    assert done.returncode == 0, done.stdout
    assert "OK: the package is intact" in done.stdout
    assert "CORRECTO: el paquete está íntegro" in done.stdout


def test_it_prints_the_signers_fingerprints_and_names(bag: Path) -> None:
    out = run(bag / "verify.py").stdout
    custodian = bag_info(bag)["Constancia-Custodian"]
    assert f"{custodian}  Ana Pérez: custodian" in out
    assert f"{custodian}  Ana Pérez: exporter" in out


def test_problems_are_one_line_each_and_exit_1(bag: Path) -> None:
    original = originals(bag)[0]
    original.write_bytes(b"otra cosa\n")
    done = run(bag / "verify.py")
    assert done.returncode == 1
    rel = original.relative_to(bag).as_posix()
    assert f"FIXITY_MISMATCH  {rel}  " in done.stdout
    assert "PROBLEMS:" in done.stdout and "PROBLEMAS:" in done.stdout


def test_json_has_the_verdict_shape(bag: Path) -> None:
    done = run(SOURCE, bag, "--json")
    verdict = json.loads(done.stdout)
    assert set(verdict) == {"ok", "artefacts", "events", "checkpoint", "problems"}
    assert verdict["ok"] and done.returncode == 0


def test_custodian_mismatch_exits_1(bag: Path) -> None:
    done = run(SOURCE, bag, "--custodian", "SHA256:" + "A" * 43)
    assert done.returncode == 1
    assert "CHECKPOINT_SIGNATURE_INVALID" in done.stdout


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_no_bag_at_all_exits_2(tmp_path: Path, where: str) -> None:
    (tmp_path / "empty").mkdir()
    done = run(SOURCE, tmp_path / where)
    assert done.returncode == 2
    assert "bagit.txt" in done.stderr and not done.stdout


def test_names_cannot_smuggle_terminal_escapes(bag: Path) -> None:
    (bag / "data" / "\x1b[2Jx\nOK: fine").write_text("x")
    done = run(SOURCE, bag)
    assert "\x1b" not in done.stdout
    assert "UNEXPECTED_FILE  data/\\x1b[2Jx\\nOK: fine  " in done.stdout
