"""The bad corpus (tests/data/datasheets/bad, built by make_corpus.py): every file is
refused with exactly the located, coded errors of its manifest entry, in German and
English, through the service and through the web upload, and nothing is written."""

from __future__ import annotations

import importlib.util
import io
import json
import random
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasheets import safety
from datasheets.choices import ErrorCode, RevisionStatus
from datasheets.models import BaseDataValue, DatasheetRevision, IndicatorValue
from datasheets.services import datasheet_check
from indicators.models import Deviation, Evaluation

DATA = Path(__file__).resolve().parents[1] / "data" / "datasheets"
MANIFEST = json.loads((DATA / "bad" / "manifest.json").read_text(encoding="utf-8"))
SPEC_CODES = {
    "file_type",
    "file_too_large",
    "unsafe_content",
    "sheet_missing",
    "label_missing",
    "template_unknown",
    "catalogue_mismatch",
    "site_unknown",
    "site_forbidden",
    "year_mismatch",
    "required",
    "not_integer",
    "negative",
    "too_large",
    "numerator_gt_denominator",
    "denominator_mismatch",
    "total_mismatch",
    "reconstruction_sum",
    "text_too_long",
}
ISSUE8_CODES = {"sheet_hidden", "sheet_duplicate", "formula_unsupported", "formula_mismatch"}


UPLOADERS = {"coordinator_a": "coordinator", "office": "office"}  # manifest name -> conftest fixture


def _corpus_module():
    spec = importlib.util.spec_from_file_location("make_corpus", DATA / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def content_of(name: str) -> bytes:
    entry = MANIFEST[name]
    if "generate" in entry:  # too large to commit: built from a good file
        return _corpus_module().generated(entry, lambda good: (DATA / "good" / good).read_bytes())
    return (DATA / "bad" / name).read_bytes()


def _counts() -> tuple[int, ...]:
    return (
        BaseDataValue.objects.count(),
        IndicatorValue.objects.count(),
        Evaluation.objects.count(),
        Deviation.objects.count(),
    )


def _triples(errors) -> list[list[str]]:
    return sorted([e.sheet, e.cell, str(e.code)] for e in errors)


def test_corpus_is_large_and_covers_every_spec_code():
    assert len(MANIFEST) >= 60
    covered = {code for entry in MANIFEST.values() for _sheet, _cell, code in entry["expected"]}
    assert SPEC_CODES <= covered
    assert ISSUE8_CODES <= covered
    assert sum(1 for entry in MANIFEST.values() if len(entry["expected"]) > 1) >= 10
    for name, entry in MANIFEST.items():
        assert entry["expected"] == sorted(entry["expected"]), name
        assert entry["uploader"] in {"coordinator_a", "office"}
        if "generate" not in entry:
            assert (DATA / "bad" / name).stat().st_size < 200 * 1024, name
    committed = sum(p.stat().st_size for p in DATA.glob("*/*") if p.is_file())
    assert committed < 3 * 1024 * 1024


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_bad_file_is_refused(name, catalogue, site_a, site_b, client, request):
    entry = MANIFEST[name]
    content = content_of(name)
    user = request.getfixturevalue(UPLOADERS[entry["uploader"]])  # hash one password, not two
    before = _counts()

    # (a) the service: exactly the expected errors, each in German and English
    errors, warnings, _facts = datasheet_check(content=content, acting_user=user, expected_site=site_a)
    assert _triples(errors) == entry["expected"], "\n".join(str(e) for e in errors)
    for problem in (*errors, *warnings):
        assert problem.code in ErrorCode.values
        assert problem.message_de and problem.message_en and problem.message_de != problem.message_en
        assert "{" not in problem.message_de + problem.message_en

    # (b) the web upload: never a 500; refused up front or a failed revision
    client.force_login(user)
    response = client.post(reverse("datasheets:upload"), {"site": site_a.pk, "file": SimpleUploadedFile(name, content)})
    assert response.status_code in (200, 302)
    if entry["web"] == "form_error":
        assert response.status_code == 200
        assert response.context["form"].errors
        assert not DatasheetRevision.objects.exists()
    else:
        assert response.status_code == 302, response.content[:2000]
        revision = DatasheetRevision.objects.get()
        assert revision.status == RevisionStatus.FAILED
        assert sorted([e["sheet"], e["cell"], e["code"]] for e in revision.errors) == entry["expected"]
        page = client.get(response.url)
        assert page.status_code == 200
        html = page.content.decode()
        for _sheet, _cell, code in entry["expected"]:
            assert f"[{code}]" in html

    # (c) nothing written
    assert _counts() == before


def test_openpyxl_parses_with_defusedxml():
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML is True


def _valid_workbook() -> bytes:
    return (DATA / "good" / "openpyxl_kj2022.xlsx").read_bytes()


def _with_sheet4(content: bytes, sheet_xml: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = sheet_xml if info.filename == "xl/worksheets/sheet4.xml" else src.read(info)
            dst.writestr(info.filename, data)
    return out.getvalue()


def test_too_many_cells_in_a_sheet_is_refused():
    rng = random.Random(3)
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{rng.randrange(10**9)}</v></c><c r="B{r}"><v>{rng.randrange(10**9)}</v></c></row>'
        for r in range(1, safety.MAX_CELLS // 2 + 10)
    )
    xml = f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'.encode()
    errors = safety.precheck(_with_sheet4(_valid_workbook(), xml))
    assert [(e.sheet, e.cell, e.code) for e in errors] == [("Hinweise", "A1", "unsafe_content")]


def test_honest_long_texts_pass_the_ratio_check():
    """Many long Begründungen (ordinary text, compressing ~3:1) stay below the bomb limits."""
    rng = random.Random(4)
    words = "Die Abweichung erklärt sich durch Sondereffekte im Kennzahlenjahr Umbau OP-Säle Personal Studien Tumorkonferenz Patienten".split()
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{" ".join(rng.choice(words) for _ in range(250))}</t></is></c></row>'
        for r in range(1, 200)
    )
    xml = f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'.encode()
    assert len(xml) > safety.RATIO_MIN_SIZE
    assert safety.precheck(_with_sheet4(_valid_workbook(), xml)) == []
