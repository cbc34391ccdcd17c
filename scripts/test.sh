#!/usr/bin/env bash
# README command 2: install what the tests need and run the whole suite.
#  1. unit, view and browser tests on the embedded default (SQLite, tasks eager);
#  2. the whole suite again on PostgreSQL, with the integration tests driving a real
#     Celery worker process through Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-test.txt

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian chromium for the browser tests"
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/tmp/qiportal-apt.log 2>&1 \
      || { echo "chromium install failed, see /tmp/qiportal-apt.log"; }
  fi
fi
scripts/services.sh

export QIPORTAL_ALLOW_INSECURE_KEY=1
export QIPORTAL_DATA_DIR="${QIPORTAL_DATA_DIR:-$(mktemp -d /tmp/qiportal-test.XXXXXX)}"
unset DATABASE_URL CELERY_BROKER_URL

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== Django checks"
.venv/bin/python manage.py check --fail-level WARNING
# The README's production variables alone (env -i: nothing else leaks in).
env -i PATH="$PATH" QIPORTAL_DATA_DIR="$QIPORTAL_DATA_DIR" \
  SECRET_KEY="ci-check-only-$(date +%s)-not-secret-key-0123456789abcdef" ALLOWED_HOSTS=qiportal.example.org \
  QIPORTAL_HTTPS=1 DATABASE_URL=postgres://qiportal@127.0.0.1:5432/qiportal CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
  EMAIL_HOST=smtp.example.org \
  .venv/bin/python manage.py check --deploy --fail-level WARNING

echo "== pytest on SQLite (tasks eager)"
.venv/bin/python -m pytest -m "not integration" -q --durations=12 "$@"

# The second run is about the engines: PostgreSQL's locking and transactions, Redis and
# real workers. The browser pages and the hostile-file corpus do not touch what differs
# between the engines (rendering; parsing before any row is written) and ran above.
echo "== pytest on PostgreSQL + Redis + Celery worker"
DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/qiportal}" \
CELERY_BROKER_URL="${TEST_CELERY_BROKER_URL:-redis://127.0.0.1:6379/15}" \
  .venv/bin/python -m pytest -q -m "not browser" --ignore=tests/datasheets/test_hostile.py --durations=12 "$@"
