#!/usr/bin/env bash
# README command 1: install, create the SQLite database, load the catalogue, import the
# national demo (Kennzahlenjahre 2019-2024, 81 sites) through the real import path,
# then serve http://127.0.0.1:8000 with a local Celery worker for new uploads.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt

export DEBUG="${DEBUG:-1}"
export QIPORTAL_DATA_DIR="${QIPORTAL_DATA_DIR:-$PWD/var}"
PY=.venv/bin/python

$PY manage.py migrate --noinput -v 0
$PY manage.py load_catalogue
# Uploads an earlier run left waiting (a process killed mid-way) are processed first.
CELERY_BROKER_URL= $PY manage.py recover_revisions --older-than 0
# The demo import runs its tasks in-process (eager): no broker is needed for it.
CELERY_BROKER_URL= $PY manage.py demo_data "$@"

# From here on uploads go through a local worker (file-system broker, no server).
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-filesystem://}"
# -B: Celery beat in the worker runs the recovery job (lost tasks are sent again).
$PY -m celery -A qiportal worker -B -c 1 --pool prefork --without-gossip --without-mingle \
  --without-heartbeat --loglevel WARNING >"$QIPORTAL_DATA_DIR/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
echo "Celery-Worker läuft (PID $worker, Log: $QIPORTAL_DATA_DIR/worker.log)."
echo "qiportal: http://127.0.0.1:8000  (Beenden mit Strg+C)"
$PY manage.py runserver 127.0.0.1:8000 --noreload
