"""The good corpus (tests/data/datasheets/good, built by make_corpus.py): files written by
openpyxl, by xlsxwriter (shared or inline strings, with or without cached results,
floats), re-saved by LibreOffice Calc, re-labelled or re-ordered all import with the
reference values and exactly the expected warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datasheets.choices import RevisionStatus
from datasheets.models import IndicatorValue
from datasheets.services import datasheet_check, datasheet_upload

DATA = Path(__file__).resolve().parents[1] / "data" / "datasheets" / "good"
MANIFEST = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))


UPLOADERS = {"coordinator_a": "coordinator", "office": "office"}  # manifest name -> conftest fixture


def test_good_corpus_covers_every_writer():
    names = set(MANIFEST)
    for prefix in ("openpyxl_", "xlsxwriter_", "xlsxwriter_constant_memory_", "libreoffice_", "excel_style_"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert {e["version"] for e in MANIFEST.values()} == {"C2.1", "KJ2022", "KJ2024"}
    assert any(w[2] == "number_as_text" for e in MANIFEST.values() for w in e["warnings"])
    assert any(w[2] == "cached_value_mismatch" for e in MANIFEST.values() for w in e["warnings"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_good_file_imports_with_reference_values(name, catalogue, site_a, request):
    entry = MANIFEST[name]
    content = (DATA / name).read_bytes()
    user = request.getfixturevalue(UPLOADERS[entry["uploader"]])  # hash one password, not two
    errors, warnings, facts = datasheet_check(content=content, acting_user=user, expected_site=site_a)
    assert errors == [], "\n".join(str(e) for e in errors)
    assert sorted([w.sheet, w.cell, str(w.code)] for w in warnings) == entry["warnings"]
    assert facts["version"].id == entry["version"]
    assert facts["indicator_year"] == entry["year"]
    got = {code: [e.numerator, e.denominator] for code, e in facts["values"].indicators.items()}
    assert got == entry["indicators"]

    revision = datasheet_upload(content=content, filename=name, acting_user=user, expected_site=site_a)
    revision.refresh_from_db()
    assert revision.status == RevisionStatus.EVALUATED, revision.errors
    assert revision.errors == []
    stored = {
        v.definition.code: [v.numerator, v.denominator]
        for v in IndicatorValue.objects.filter(revision=revision).select_related("definition")
    }
    assert stored == entry["indicators"]
