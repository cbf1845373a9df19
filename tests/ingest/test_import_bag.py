"""A plain BagIt bag (made by bagit-python, no records): its payload becomes new artefacts
whose provenance names the bag."""

from __future__ import annotations

import json
from pathlib import Path

import bagit
import pytest

from tests.conftest import json_lines
from tests.ingest.import_helpers import objects, snapshot


@pytest.fixture
def bag(make_files) -> Path:
    folder = make_files(
        {
            "acta.txt": "Acta de la reunión del comité de familiares.",
            "acta.txt.yaml": "title: Acta del comité\nlanguage: es\n",
            "fotos/placa.txt": "Descripción de la placa memorial.",
        }
    )
    bagit.make_bag(
        str(folder), {"Source-Organization": "Vicaría", "External-Identifier": "urn:x:lote-7"}
    )
    return folder


def test_a_plain_bag_becomes_artefacts_that_name_the_bag(run, archive, bag):
    result = run("import", bag, "--archive", archive, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "bag" and out["counts"]["new"] == 2
    records = [json.loads((o / "v1/content/record.json").read_bytes()) for o in objects(archive)]
    via = {r["ingested"]["via"]["bag"] for r in records}
    assert (
        via == {str(bag)} and records[0]["ingested"]["via"]["external_identifier"] == "urn:x:lote-7"
    )
    assert "Acta del comité" in {r["metadata"].get("title") for r in records}  # sidecar honoured
    events = json_lines(run("log", "--archive", archive, "--json").stdout)
    assert [e["details"]["via"]["bag"] for e in events if e["action"] == "ingest"] == [str(bag)] * 2
    assert events[-1]["action"] == "imported" and events[-1]["details"]["package"] == "urn:x:lote-7"
    assert json.loads(run("verify", "--archive", archive, "--json").stdout)["ok"]


def test_importing_a_bag_twice_changes_nothing(run, archive, bag):
    assert run("import", bag, "--archive", archive).exit_code == 0
    before = snapshot(archive)
    again = run("import", bag, "--archive", archive, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["counts"]["unchanged"] == 2
    assert snapshot(archive) == before
