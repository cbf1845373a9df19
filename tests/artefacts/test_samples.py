"""The fictional samples: marked fictional everywhere, valid, and readable by outside tools."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from artefacts.handlers import extract_technical
from artefacts.media import detect_media_type
from artefacts.metadata import find_sidecar, is_sidecar, load_sidecar

ROOT = Path(__file__).resolve().parents[2] / "samples"
SAMPLES = ROOT / "villa-quintral"
NAMES = {p.name for p in SAMPLES.iterdir() if p.is_file()}
ARTEFACTS = sorted(SAMPLES / n for n in NAMES if not is_sidecar(SAMPLES / n, NAMES))
SIDECARS = sorted(SAMPLES / n for n in NAMES if is_sidecar(SAMPLES / n, NAMES))
NOTICE = "FICTIONAL SAMPLE — invented for testing Constancia; no real person or event."


def test_six_artefacts_each_with_its_own_sidecar() -> None:
    assert len(ARTEFACTS) == 6 and len(SIDECARS) == 6
    assert sorted(find_sidecar(a) for a in ARTEFACTS) == SIDECARS  # type: ignore[type-var]


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.name)
def test_sidecars_are_valid_and_say_fictional(sidecar: Path) -> None:
    metadata, warnings = load_sidecar(sidecar)
    assert warnings == []
    assert "ficticio" in metadata["tags"]
    assert (
        "ficticio" in metadata["description"].lower()
        or "fictional" in metadata["description"].lower()
    )
    first_line = sidecar.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("#") and "MUESTRA FICTICIA" in first_line
    assert "FICTIONAL SAMPLE" in first_line


@pytest.mark.parametrize("artefact", ARTEFACTS, ids=lambda p: p.name)
def test_every_artefact_says_fictional(artefact: Path) -> None:
    media_type = detect_media_type(artefact, artefact.read_bytes()[:8192])
    if media_type == "application/pdf":
        from pypdf import PdfReader

        content = PdfReader(artefact).pages[0].extract_text()
    elif media_type == "image/jpeg":
        from PIL import Image

        with Image.open(artefact) as img:
            content = str(img.getexif()[0x010E])
    else:
        encoding = extract_technical(artefact, media_type)["encoding"]
        content = artefact.read_bytes().decode(encoding)
    # Markdown emphasis (**...**) and the photo's ASCII-only EXIF (a hyphen for the dash) aside.
    assert NOTICE.replace("—", "-") in content.replace("*", "").replace("—", "-")


def test_the_windows_1252_testimony_is_not_utf8() -> None:
    path = SAMPLES / "declaracion_elena_rios_1976.txt"
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    assert extract_technical(path, "text/plain")["encoding"] == "windows-1252"


def test_generator_reproduces_the_committed_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_binary_samples", ROOT / "make_binary_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for name in ("declaracion_elena_rios_1976.txt", "carta_comite_1976.pdf"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes()
    # JPEG bytes depend on the Pillow version; what it records must not.
    assert extract_technical(tmp_path / "placa_memorial.jpg", "image/jpeg") == extract_technical(
        SAMPLES / "placa_memorial.jpg", "image/jpeg"
    )


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def test_pdftotext_reads_the_letter() -> None:
    out = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(SAMPLES / "carta_comite_1976.pdf"), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert NOTICE in out and "José Sepúlveda Ríos" in out


def test_qpdf_finds_no_errors() -> None:
    subprocess.run(
        [_tool("qpdf"), "--check", str(SAMPLES / "carta_comite_1976.pdf")],
        capture_output=True,
        check=True,
    )


def test_exiftool_validates_the_photo_and_agrees_on_gps() -> None:
    exiftool = _tool("exiftool")
    jpeg = str(SAMPLES / "placa_memorial.jpg")
    report = subprocess.run(
        [exiftool, "-validate", "-warning", "-a", jpeg], capture_output=True, check=True, text=True
    ).stdout
    assert "Validate" in report and ": OK" in report
    out = subprocess.run(
        [exiftool, "-n", "-s3", "-GPSLatitude", "-GPSLongitude", jpeg],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split()
    assert [round(float(x), 6) for x in out] == [-33.586167, -70.834194]
