"""Nothing lost under worker and broker failures (issue 8), with real processes:
PostgreSQL, Redis and ``celery worker`` subprocesses, all on loopback.

- a worker child SIGKILLed during evaluation: the message is requeued
  (``task_reject_on_worker_lost``) and the evaluation runs again;
- the worker's main process and its children SIGKILLed: a new worker with Celery beat
  recovers the revisions (``visibility_timeout`` and the recovery job);
- a Redis server of the test's own, SIGKILLed with a backlog and restarted empty:
  uploads before and during the outage all end evaluated; no HTTP answer is 500.

Every revision must end evaluated with the evaluations and deviations that the file's
values give by SPEC §4 (computed here from the file with ``datasheet_check`` and
``indicators.domain.evaluate``), nothing lost and nothing duplicated. Deterministic:
an evaluation is held at its per-site row lock by a second database connection of the
test while its worker child is killed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time

import psutil
import psycopg
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from centres.models import Site
from datasheets.checking import datasheet_check
from datasheets.layout import IND_DENOMINATOR, IND_NUMERATOR, layout_for
from datasheets.models import DatasheetRevision
from datasheets.services import datasheet_template_build, datasheet_upload
from indicators.domain import evaluate
from indicators.models import CatalogueVersion, Deviation, Evaluation
from tests.conftest import require
from tests.datasheets.helpers import consistent_values, edit_workbook
from tests.factories import SiteFactory
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

FAST_RECOVERY = {
    "QIPORTAL_STUCK_AFTER": "3",
    "QIPORTAL_RECOVER_INTERVAL": "1",
    "QIPORTAL_VISIBILITY_TIMEOUT": "8",
}


def _sheet(site: Site, layout, kz20: tuple[int, int]) -> bytes:
    _n, content = datasheet_template_build(site=site, indicator_year=2022, values=consistent_values(layout))
    return edit_workbook(
        content,
        {
            ("Kennzahlen", layout.indicator_cell("20", IND_NUMERATOR)): kz20[0],
            ("Kennzahlen", layout.indicator_cell("20", IND_DENOMINATOR)): kz20[1],
        },
    )


def _expected(files: dict[int, bytes]) -> tuple[set, set]:
    """(evaluations, active deviations) the files give by SPEC §4, independent of the
    asynchronous path: {(site, code, numerator, denominator, flags)}, {(site, code, flag)}."""
    evaluations, deviations = set(), set()
    for site_id, content in files.items():
        result = datasheet_check(content=content)
        assert not result.errors, result.errors
        rules = {d.code: d.rule() for d in result.version.definitions.all()}
        for code, entry in result.values.indicators.items():
            flags = tuple(sorted(str(f) for f in evaluate(entry.numerator, entry.denominator, rules[code])))
            evaluations.add((site_id, code, entry.numerator, entry.denominator, flags))
            deviations.update((site_id, code, flag) for flag in flags)
    return evaluations, deviations


def _actual() -> tuple[set, set, int, int]:
    evaluations = {
        (e.site_id, e.definition.code, e.numerator, e.denominator, tuple(sorted(e.flags)))
        for e in Evaluation.objects.select_related("definition")
    }
    deviations = set(Deviation.objects.filter(is_active=True).values_list("site_id", "code", "flag"))
    return evaluations, deviations, Evaluation.objects.count(), Deviation.objects.count()


def _assert_same_as_the_files(files: dict[int, bytes], n_indicators: int) -> None:
    expected_evaluations, expected_deviations = _expected(files)
    evaluations, deviations, n_evaluations, n_deviations = _actual()
    assert evaluations == expected_evaluations  # nothing lost, nothing changed
    assert n_evaluations == len(files) * n_indicators  # nothing duplicated
    assert deviations == expected_deviations
    assert n_deviations == len(expected_deviations)


def _wait_all(pks, statuses=("evaluated",), timeout=90.0) -> list[DatasheetRevision]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        revisions = list(DatasheetRevision.objects.filter(pk__in=pks).order_by("pk"))
        if all(r.status in statuses or r.status == "failed" for r in revisions):
            return revisions
        time.sleep(0.2)
    states = list(DatasheetRevision.objects.filter(pk__in=pks).values_list("pk", "status", "attempts", "queued_at"))
    pytest.fail(f"revisions not final after {timeout} s: {states}")


class SiteLocks:
    """Row locks on sites held by a second database connection: an evaluation of a
    locked site waits at its ``select_for_update`` (after its attempt has begun)."""

    def __init__(self) -> None:
        self.locked: dict[int, psycopg.Connection] = {}

    def lock(self, site_id: int) -> None:
        db = settings.DATABASES["default"]
        conn = psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
        )
        # NO KEY UPDATE: blocks the evaluation's FOR UPDATE, not the FOR KEY SHARE of a foreign key
        conn.execute("SELECT id FROM centres_site WHERE id = %s FOR NO KEY UPDATE", (site_id,))
        self.locked[site_id] = conn

    def release(self, site_id: int) -> None:
        conn = self.locked.pop(site_id)
        conn.rollback()
        conn.close()

    def close(self) -> None:
        for site_id in list(self.locked):
            self.release(site_id)


@pytest.fixture
def site_locks():
    require(connection.vendor == "postgresql", "DATABASE_URL=postgres://… is needed")
    locks = SiteLocks()
    yield locks
    locks.close()


def _blocked_evaluation(pks, attempt: int, timeout: float = 60.0) -> DatasheetRevision:
    """A revision among ``pks`` whose evaluation attempt ``attempt`` has begun (it then
    waits at the site lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        revision = (
            DatasheetRevision.objects.filter(pk__in=pks, status="validated", attempts=attempt)
            .exclude(started_at=None)
            .first()
        )
        if revision is not None:
            time.sleep(0.3)  # from the attempt's start to the lock wait
            return revision
        time.sleep(0.05)
    pytest.fail(
        f"no evaluation attempt {attempt} began: {list(DatasheetRevision.objects.values_list('status', 'attempts'))}"
    )


def _kill_children(worker) -> int:
    children = psutil.Process(worker.pid).children(recursive=True)
    for child in children:
        child.send_signal(signal.SIGKILL)
    psutil.wait_procs(children, timeout=10)
    return len(children)


@pytest.fixture
def three_sites(site_a, site_b):
    return [site_a, site_b, SiteFactory(registration_number="KHT-C03")]


@pytest.fixture
def layout(catalogue):
    return layout_for(CatalogueVersion.objects.get(pk="KJ2022"))


def test_worker_children_killed_during_evaluation_lose_nothing(celery_worker_factory, site_locks, layout, three_sites):
    worker = celery_worker_factory()
    files = {site.pk: _sheet(site, layout, (3 + i, 10)) for i, site in enumerate(three_sites)}
    for site in three_sites:
        site_locks.lock(site.pk)
    pks = [datasheet_upload(content=content, filename="kht.xlsx", source="cli").pk for content in files.values()]

    killed: list[int] = []
    for _ in three_sites:  # each evaluation dies once, in the middle
        revision = _blocked_evaluation([pk for pk in pks if pk not in killed], attempt=1)
        assert _kill_children(worker) == 1
        killed.append(revision.pk)
        site_locks.release(revision.site_id)
    assert sorted(killed) == sorted(pks)

    revisions = _wait_all(pks)
    assert [(r.status, r.attempts, r.is_current) for r in revisions] == [("evaluated", 2, True)] * 3
    assert worker.poll() is None, "the worker's main process replaces its children"
    _assert_same_as_the_files(files, len(layout.indicators))
    log = worker.log_path.read_text()
    assert "WorkerLostError" in log or "exited with 'signal 9" in log


def test_a_killed_worker_main_process_loses_nothing(celery_worker_factory, site_locks, layout, three_sites):
    crashed = celery_worker_factory()
    files = {site.pk: _sheet(site, layout, (9, 10)) for site in three_sites}
    site_locks.lock(three_sites[0].pk)
    pks = [datasheet_upload(content=content, filename="kht.xlsx", source="cli").pk for content in files.values()]
    _blocked_evaluation(pks[:1], attempt=1)  # in the middle of its evaluation; the others wait behind it
    children = psutil.Process(crashed.pid).children(recursive=True)
    crashed.send_signal(signal.SIGKILL)  # the whole worker dies: main process and children
    for child in children:
        child.send_signal(signal.SIGKILL)
    crashed.wait(timeout=10)
    site_locks.release(three_sites[0].pk)
    assert DatasheetRevision.objects.get(pk=pks[0]).status == "validated"

    celery_worker_factory(beat=True, **FAST_RECOVERY)
    revisions = _wait_all(pks, timeout=120)
    assert [r.status for r in revisions] == ["evaluated"] * 3
    assert revisions[0].attempts == 2  # the attempt that died, and the one that finished
    _assert_same_as_the_files(files, len(layout.indicators))


class OwnRedis:
    """A redis-server of the test's own on a free loopback port, no persistence."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is needed")
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    if redis.process and redis.process.poll() is None:
        redis.kill()


@pytest.fixture
def broker_of(own_redis):
    """Point this process's Celery app at the test's own Redis."""
    from qiportal.celery import app

    previous = app.conf.broker_url
    assert app.conf.broker_write_url in (None, previous) and app.conf.broker_read_url in (None, previous)

    def switch(url: str) -> None:
        app._pool = None  # the next send opens a pool for the new URL
        app.amqp._producer_pool = None
        app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url

    switch(own_redis.url)
    yield own_redis
    switch(previous)


def test_uploads_before_and_during_a_broker_outage_all_end_evaluated(
    celery_worker_factory, broker_of, layout, office, client
):
    sites = [SiteFactory(registration_number=f"KHT-R{i:02d}") for i in range(5)]
    files = {site.pk: _sheet(site, layout, (i + 1, 8)) for i, site in enumerate(sites)}
    client.force_login(office)

    def upload(site):
        return client.post(
            reverse("datasheets:upload"),
            {"site": site.pk, "file": SimpleUploadedFile("kht.xlsx", files[site.pk])},
        )

    before = [upload(site) for site in sites[:3]]  # queued in Redis, no worker yet
    assert [r.status_code for r in before] == [302] * 3
    assert DatasheetRevision.objects.filter(queued_at__isnull=False).count() == 3
    broker_of.kill()  # the backlog of 3 is lost with it

    started = time.monotonic()
    during = [upload(site) for site in sites[3:]]
    assert [r.status_code for r in during] == [302] * 2
    assert time.monotonic() - started < 20  # a bounded wait for the broker, then the answer
    for response in during:
        page = client.get(response["Location"])
        assert page.status_code == 200
        assert 'data-code="processing_delayed"' in page.content.decode(), list(
            DatasheetRevision.objects.values_list("pk", "status", "queued_at", "errors")
        )
    assert DatasheetRevision.objects.filter(queued_at__isnull=True).count() == 2

    broker_of.start()  # back, empty
    worker = celery_worker_factory(beat=True, CELERY_BROKER_URL=broker_of.url, **FAST_RECOVERY)
    pks = list(DatasheetRevision.objects.values_list("pk", flat=True))
    revisions = _wait_all(pks, timeout=120)
    assert [r.status for r in revisions] == ["evaluated"] * 5
    assert all(r.attempts == 1 for r in revisions)  # lost messages, not failed attempts
    _assert_same_as_the_files(files, len(layout.indicators))
    assert "revisions_recover_task" in worker.log_path.read_text()
