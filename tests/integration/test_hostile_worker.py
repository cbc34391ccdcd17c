"""The hostile corpus of issue 8 through a real Celery worker (Redis, PostgreSQL, the
worker's own limits): every file fails with the located codes of its manifest entry,
each validation takes less than 5 s in the worker, and the worker lives on."""

import time

import pytest

from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_upload
from tests.datasheets.test_corpus_bad import MANIFEST, content_of
from tests.datasheets.test_hostile import HOSTILE, MAX_SECONDS

pytestmark = pytest.mark.integration


def _final(revision_ids, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        revisions = list(DatasheetRevision.objects.filter(pk__in=revision_ids))
        if all(r.status in ("failed", "evaluated", "validated") for r in revisions):
            return {r.pk: r for r in revisions}
        time.sleep(0.3)
    stuck = DatasheetRevision.objects.filter(pk__in=revision_ids).exclude(status__in=("failed", "evaluated"))
    pytest.fail(f"still processing: {list(stuck.values_list('pk', 'status'))}")


def test_the_hostile_corpus_fails_in_the_worker_with_its_located_codes(
    celery_worker_factory, catalogue, site_a, coordinator, office
):
    worker = celery_worker_factory()
    users = {"coordinator_a": coordinator, "office": office}
    uploaded = {}
    for name in HOSTILE:
        entry = MANIFEST[name]
        revision = datasheet_upload(
            content=content_of(name), filename=name, acting_user=users[entry["uploader"]], expected_site=site_a
        )
        uploaded[revision.pk] = name
    final = _final(list(uploaded))
    for pk, name in uploaded.items():
        revision = final[pk]
        assert revision.status == "failed", name
        found = sorted([e["sheet"], e["cell"], e["code"]] for e in revision.errors)
        assert found == MANIFEST[name]["expected"], name
        assert revision.indicator_values.count() == 0
        spent = (revision.validated_at - revision.started_at).total_seconds()
        assert spent < MAX_SECONDS, (name, spent)
    assert worker.poll() is None, "the worker process must still run"
