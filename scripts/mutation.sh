#!/usr/bin/env bash
# Mutation testing of the rule modules (issue 7): mutmut plants one-line bugs in
# indicators/domain.py, statistics.py, services.py, centres/permissions.py and
# datasheets/safety.py, validation.py, services.py, runs the fast suite against each
# and reports the kill rate per module (scripts/mutation_report.py).
#
#   scripts/mutation.sh                 # run (resumes where the last run stopped), then report
#   MUTATION_BUDGET_MINUTES=30 scripts/mutation.sh
#   scripts/mutation.sh --fresh         # forget earlier results (mutants/) first
#   scripts/mutation.sh --retest        # after adding tests: check the survivors again
#   scripts/mutation.sh --report-only
#
# Exit 0 only when every module kills >= 90 % of its non-equivalent mutants and every
# survivor is listed in tests/mutation/<module>.txt with a reason. Bounded by
# MUTATION_BUDGET_MINUTES (default 150); a run cut short reports the mutants it did not
# reach and exits 1; running the script again continues from there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-mutation.txt

case "${1:-}" in
  --fresh) rm -rf mutants ;;
  --report-only) exec .venv/bin/python scripts/mutation_report.py ;;
  --retest) .venv/bin/python scripts/mutation_report.py --forget-survivors ;;
esac

export QIPORTAL_ALLOW_INSECURE_KEY=1 HYPOTHESIS_PROFILE=mutation
export QIPORTAL_DATA_DIR="${QIPORTAL_DATA_DIR:-$(mktemp -d /tmp/qiportal-mutation.XXXXXX)}"
unset DATABASE_URL CELERY_BROKER_URL
# mutmut refreshes the Python files of its copy but keeps other files of the mutated
# apps (templates, static) from the first run: bring them up to date.
if [ -d mutants ]; then
  read -r -a apps < <(.venv/bin/python -c \
    'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["mutmut"]["source_paths"])')
  find "${apps[@]}" -type f ! -name '*.py' ! -name '*.pyc' ! -path '*/__pycache__/*' \
    -exec cp -p --parents {} mutants/ \;
fi
budget="${MUTATION_BUDGET_MINUTES:-150}"
children="${MUTATION_CHILDREN:-$(nproc)}"
echo "== mutmut (budget ${budget} min, ${children} children)"
started=$(date +%s)
set +e
timeout --signal=INT "${budget}m" .venv/bin/mutmut run --max-children "$children" >mutants.log 2>&1
status=$?
set -e
tail -c 2000 mutants.log | tr '\r' '\n' | tail -3
echo "mutmut exit ${status} after $(( $(date +%s) - started )) s (log: mutants.log)"
exec .venv/bin/python scripts/mutation_report.py
