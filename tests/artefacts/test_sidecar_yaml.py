"""load_sidecar on real files: hostile and broken YAML gets one plain MetadataError."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artefacts import sidecar_yaml
from artefacts.metadata import load_sidecar
from constancia.errors import MetadataError


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def _parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case runs on both of PyYAML's parsers: libyaml when built in, and the fallback."""
    if request.param == "pure-python":
        monkeypatch.setattr(sidecar_yaml, "_Loader", sidecar_yaml._PyLoader)
    elif sidecar_yaml._Loader is sidecar_yaml._PyLoader:
        pytest.skip("PyYAML was built without libyaml")


def sidecar(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "testimonio.txt.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def refused(tmp_path: Path, text: str | bytes) -> MetadataError:
    path = sidecar(tmp_path, text)
    with pytest.raises(MetadataError) as caught:
        load_sidecar(path)
    error = caught.value
    assert error.path == path and error.hint, "every error names the file and a fix"
    return error


def test_a_good_sidecar(tmp_path: Path) -> None:
    text = (
        "title: Testimonio\n"
        "date: 1973-09-11\n"  # YAML would make this a datetime.date
        "created: 2024-03-01T10:20:00Z\n"  # ... and this a datetime
        "language: es-CL\n"
        "places: [Villa Quintral]\n"
        "tags: [ficticio, 1973]\n"
        "title_en: 1984\n"
    )
    metadata, warnings = load_sidecar(sidecar(tmp_path, text))
    assert metadata == {
        "title": "Testimonio",
        "date": "1973-09-11",
        "created": "2024-03-01T10:20:00Z",
        "language": "es-CL",
        "places": ["Villa Quintral"],
        "tags": ["ficticio", "1973"],
        "title_en": 1984,
    }
    assert warnings == []


def test_numbers_in_text_fields_keep_what_was_written(tmp_path: Path) -> None:
    metadata, _ = load_sidecar(sidecar(tmp_path, "title: 007\ndate: 1973\n"))
    assert metadata == {"title": "007", "date": "1973"}


def test_misspelling_warning_names_the_line(tmp_path: Path) -> None:
    _, warnings = load_sidecar(sidecar(tmp_path, "title: t\n\nplces: [a]\n"))
    assert warnings == [
        "testimonio.txt.yaml, line 3: 'plces': did you mean 'places'? (kept as an extra key)"
    ]


def test_syntax_error_names_its_line(tmp_path: Path) -> None:
    error = refused(tmp_path, 'title: "unclosed\ndate: 1973\nplaces: [a\n')
    assert "not valid YAML" in error.message
    assert (
        error.line is not None
        and error.hint == f"check the indentation and quotes near line {error.line}"
    )


def test_bad_indentation_line(tmp_path: Path) -> None:
    error = refused(tmp_path, "title: a\nplaces:\n  - a\n - b\n")
    assert error.line == 4


def test_python_tags_are_never_constructed(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    error = refused(tmp_path, f'title: t\nx: !!python/object/apply:os.system ["touch {target}"]\n')
    assert not target.exists()
    assert error.line == 2 and "!!python/object/apply:os.system" in error.message


@pytest.mark.parametrize(
    "value",
    [
        "!!python/name:os.system",
        "!!python/object/new:str [x]",
        "!local thing",
        "!!binary aGk=",
        "!!set {a, b}",
        "!!omap [a: 1]",
        "!<tag:example.com,2000:x> y",
    ],
)
def test_other_tags_are_refused(tmp_path: Path, value: str) -> None:
    assert refused(tmp_path, f"title: t\nx: {value}\n").line == 2


def test_aliases_are_refused(tmp_path: Path) -> None:
    laughs = "a: &a [lol, lol, lol]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    assert "anchor" in refused(tmp_path, laughs).message
    error = refused(tmp_path, "title: t\ntags: *undefined\n")
    assert "alias (*undefined)" in error.message and error.line == 2


def test_too_large_is_refused_before_parsing(tmp_path: Path) -> None:
    error = refused(tmp_path, "title: " + "x" * (2 * 1024 * 1024) + "\n")
    assert "larger than 1 MiB" in error.message


def test_not_utf8_names_the_offset_and_line(tmp_path: Path) -> None:
    error = refused(tmp_path, "title: a\ndescription: Sep\xfalveda\n".encode("cp1252"))
    assert "offset 25" in error.message and error.line == 2 and "UTF-8" in str(error.hint)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "title: a\ndate: 1973\ntitle: b\n")
    assert "'title' twice (lines 1 and 3)" in error.message and error.line == 3


def test_duplicate_keys_inside_a_person(tmp_path: Path) -> None:
    assert refused(tmp_path, "people:\n  - {name: a, name: b}\n").line == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- title: a\n- date: 1973\n", "holds a list"),
        ("just a sentence\n", "holds a single value"),
        ("1973: a\n", "key that is not text"),
        ("? [a, b]\n: c\n", "key that is not text"),
        ("null: a\n", "key that is not text"),
        ("base: &b {title: t}\n<<: *b\n", "anchor"),
        ("<<: {title: t}\n", "merge key"),
        ("title: a\n---\ntitle: b\n", "not valid YAML"),
        ("x: " + "[" * 25 + "]" * 25 + "\n", "more than 20 levels"),
        ("title: a\x07\n", "not valid YAML"),
    ],
)
def test_shapes_that_are_refused(tmp_path: Path, text: str, message: str) -> None:
    assert message in refused(tmp_path, text).message


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "---\n", "{}\n"])
def test_empty_sidecar(tmp_path: Path, text: str) -> None:
    assert "is empty; add at least a title, or delete it" in refused(tmp_path, text).message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("title: t\ndate: 1973-02-29\n", 2),
        ("title: t\n\nkind: testimonio\n", 3),
        ("title: t\ntags:\n  - a\n  - [b]\n", 4),
        ("title: t\npeople:\n  - Ana\n  - {name: Luis, role: vecino}\n", 4),
        ("title:\n  - a\n  - b\n", 1),
        ("title: t\nlanguage: no\n", 2),
    ],
)
def test_schema_errors_name_the_right_line(tmp_path: Path, text: str, line: int) -> None:
    assert refused(tmp_path, text).line == line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="cannot be read"):
        load_sidecar(tmp_path / "absent.yaml")


def test_bom_is_accepted(tmp_path: Path) -> None:
    assert load_sidecar(sidecar(tmp_path, "\ufefftitle: t\n"))[0] == {"title": "t"}


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_metadata_error(tmp_path: Path, data: bytes) -> None:
    path = sidecar(tmp_path, data)
    try:
        metadata, warnings = load_sidecar(path)
    except MetadataError:
        return
    assert isinstance(metadata, dict) and isinstance(warnings, list)


YAMLISH = st.text(
    alphabet=st.sampled_from(list("tiledacgs :-[]{},&*!?|>'\"#\n 01973.\\%@`")), max_size=120
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=YAMLISH)
def test_yaml_like_text_raises_only_metadata_error(tmp_path: Path, text: str) -> None:
    path = sidecar(tmp_path, text)
    with contextlib.suppress(MetadataError):
        load_sidecar(path)
