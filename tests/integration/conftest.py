"""A real Celery worker process against real Redis and PostgreSQL (issue 3).

Run with ``DATABASE_URL=postgres://...`` and ``CELERY_BROKER_URL=redis://...``; the
worker gets the test database's name and a queue of its own, so parallel runs do not
steal each other's tasks.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A free TCP port on loopback (for a server a test starts itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def celery_worker_factory(transactional_db, tmp_path):
    """Start ``celery worker`` processes on a fresh queue: ``start(beat=False,
    **extra_env)`` returns the Popen (with ``log_path``); ``beat`` runs Celery beat in
    the worker (the recovery job of issue 8). All are stopped after the test."""
    from urllib.parse import urlparse

    broker = os.environ.get("CELERY_BROKER_URL", "")
    require(broker.startswith("redis://"), "CELERY_BROKER_URL=redis://… is needed")
    parsed = urlparse(broker)
    require(_port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379), f"Redis at {broker}")
    require(connection.vendor == "postgresql", "DATABASE_URL=postgres://… is needed")

    from qiportal.celery import app

    queue = f"qiportal-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    started = []

    def start(*, beat: bool = False, **extra_env: str):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "QIPORTAL_DATA_DIR": str(settings.DATA_DIR),
            "QIPORTAL_ALLOW_INSECURE_KEY": "1",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        env.pop("PYTEST_VERSION", None)
        log = tmp_path / f"worker{len(started)}.log"
        handle = log.open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "qiportal",
                "worker",
                "-Q",
                queue,
                "-c",
                "1",
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
                *(["-B", "--schedule", str(tmp_path / f"beat{len(started)}")] if beat else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        started.append((process, handle))
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text() and time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"celery worker exited: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        if "ready." not in log.read_text():
            pytest.fail(f"celery worker did not start: {log.read_text()[-3000:]}")
        process.log_path = log
        return process

    yield start
    import psutil

    for process, handle in started:
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        for child in children:  # orphans of a main process killed by the test
            try:
                child.kill()
            except psutil.Error:
                pass
        handle.close()
    # A pool child may still hold its connection for a moment: end such sessions so the
    # test database can be flushed and dropped.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE


@pytest.fixture
def celery_worker_process(celery_worker_factory):
    """One worker with the default settings."""
    return celery_worker_factory()
