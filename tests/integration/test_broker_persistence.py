"""The documented production Redis (``deploy/redis.conf``, issue 8) keeps queued task
messages through a crash: a real Celery message is sent, Redis is SIGKILLed and
restarted from the same directory, and the message is still in its queue."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import require
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

CONF = Path(__file__).resolve().parents[2] / "deploy" / "redis.conf"


def _start(port: int, data_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", str(CONF), "--port", str(port), "--dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("redis-server with deploy/redis.conf did not start")


def test_queued_messages_survive_a_redis_crash_with_the_documented_configuration(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is needed")
    from datasheets.tasks import revision_validate_task
    from qiportal.celery import app

    port = free_port()
    server = _start(port, tmp_path)
    try:
        client = redis.Redis(port=port)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        with app.connection_for_write(f"redis://127.0.0.1:{port}/0") as conn:
            revision_validate_task.apply_async((4711,), connection=conn, queue="qiportal-persist")
        assert client.llen("qiportal-persist") == 1
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        server = _start(port, tmp_path)
        messages = redis.Redis(port=port).lrange("qiportal-persist", 0, -1)
        assert len(messages) == 1 and b"revision_validate_task" in messages[0]
    finally:
        server.kill()
        server.wait(timeout=10)
