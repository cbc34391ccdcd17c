"""Production defaults of ``qiportal/settings.py`` (issue 8).

Each case loads the settings module in a child process with exactly the given
environment (no ``PYTEST_VERSION``, which the settings treat as the test run), so what
is checked is what a server started with those variables gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[1]
SECRET = "prod-only-for-this-test-7f3c9a1e5b2d4c6e8a0b1d3f5e7c9a2b4d6f8e0a1c3e5"
# The production variables of the README, and nothing else.
PRODUCTION = {
    "SECRET_KEY": SECRET,
    "ALLOWED_HOSTS": "qiportal.example.org",
    "QIPORTAL_HTTPS": "1",
    "DATABASE_URL": "postgres://qiportal@127.0.0.1:5432/qiportal",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_HOST": "smtp.example.org",  # the daily digest goes out by SMTP (issue 9)
}
SHOWN = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_TIME",
    "QIPORTAL_PROXY_COUNT",
)
PRINT_SETTINGS = f"""
import json, runpy
g = runpy.run_path("qiportal/settings.py")
shown = {{k: g.get(k) for k in {SHOWN!r}}}
shown["AXES_COOLOFF_TIME"] = shown["AXES_COOLOFF_TIME"].total_seconds() / 60
print(json.dumps(shown))
"""


def _env(tmp_path: Path, **variables: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "QIPORTAL_DATA_DIR": str(tmp_path), **variables}


def settings_with(tmp_path: Path, **variables: str) -> dict:
    """The security settings of a process started with only ``variables``."""
    done = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=_env(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def deploy_check(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_env(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path):
    done = deploy_check(tmp_path, **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_fails_without_the_https_switch(tmp_path):
    variables = {k: v for k, v in PRODUCTION.items() if k != "QIPORTAL_HTTPS"}
    done = deploy_check(tmp_path, **variables)
    assert done.returncode != 0
    assert "security.W004" in done.stderr and "security.W008" in done.stderr  # HSTS, redirect
    assert "security.W012" not in done.stderr  # the cookies are Secure anyway


def test_debug_off_without_switch_has_secure_cookies_only(tmp_path):
    shown = settings_with(tmp_path, SECRET_KEY=SECRET)
    assert shown["DEBUG"] is False
    assert (shown["SESSION_COOKIE_SECURE"], shown["CSRF_COOKIE_SECURE"]) == (True, True)
    assert (shown["SECURE_SSL_REDIRECT"], shown["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert (shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"], shown["SECURE_HSTS_PRELOAD"]) == (False, False)
    assert shown["SECURE_PROXY_SSL_HEADER"] is None
    assert (shown["AXES_FAILURE_LIMIT"], shown["AXES_COOLOFF_TIME"], shown["QIPORTAL_PROXY_COUNT"]) == (5, 15, 0)


def test_https_switch_turns_on_redirect_hsts_and_secure_cookies(tmp_path):
    shown = settings_with(tmp_path, SECRET_KEY=SECRET, QIPORTAL_HTTPS="1")
    assert shown["SECURE_SSL_REDIRECT"] is True
    assert shown["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and shown["SECURE_HSTS_PRELOAD"] is True
    assert shown["SESSION_COOKIE_SECURE"] is True and shown["CSRF_COOKIE_SECURE"] is True


def test_each_part_of_the_switch_is_overridable(tmp_path):
    shown = settings_with(
        tmp_path,
        SECRET_KEY=SECRET,
        QIPORTAL_HTTPS="1",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_PRELOAD="0",
        SECURE_COOKIES="0",
    )
    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_HSTS_SECONDS"] == 600 and shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert shown["SECURE_HSTS_PRELOAD"] is False
    assert shown["SESSION_COOKIE_SECURE"] is False and shown["CSRF_COOKIE_SECURE"] is False


def test_debug_keeps_plain_http(tmp_path):
    shown = settings_with(tmp_path, DEBUG="1")
    assert shown["SESSION_COOKIE_SECURE"] is False and shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_HSTS_SECONDS"] == 0


def test_proxy_ssl_header_and_login_limits_from_the_environment(tmp_path):
    shown = settings_with(
        tmp_path,
        SECRET_KEY=SECRET,
        QIPORTAL_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
        QIPORTAL_PROXY_COUNT="1",
        QIPORTAL_LOGIN_FAILURE_LIMIT="3",
        QIPORTAL_LOGIN_COOLOFF_MINUTES="30",
    )
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert (shown["QIPORTAL_PROXY_COUNT"], shown["AXES_FAILURE_LIMIT"], shown["AXES_COOLOFF_TIME"]) == (1, 3, 30)
    shown = settings_with(tmp_path, SECRET_KEY=SECRET, QIPORTAL_PROXY_SSL_HEADER="HTTP_X_SCHEME=on")
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_SCHEME", "on"]


@pytest.mark.parametrize(
    "variables",
    [
        {"QIPORTAL_PROXY_SSL_HEADER": "X-Forwarded-Proto"},  # not a request.META key
        {"QIPORTAL_LOGIN_FAILURE_LIMIT": "0"},
        {"QIPORTAL_LOGIN_COOLOFF_MINUTES": "0"},
    ],
)
def test_misconfiguration_stops_the_start(tmp_path, variables):
    done = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=_env(tmp_path, SECRET_KEY=SECRET, **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "ImproperlyConfigured" in done.stderr


def test_the_test_run_does_not_force_https():
    assert django_settings.SECURE_SSL_REDIRECT is False
    assert django_settings.SESSION_COOKIE_SECURE is False and django_settings.CSRF_COOKIE_SECURE is False
    assert django_settings.SECURE_HSTS_SECONDS == 0


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(client, db):
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        assert client.get("/login/").status_code == 301  # plain http: redirected
        response = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
        assert response.status_code == 200
