#!/usr/bin/env bash
# Create .venv with Python 3.12+ and install the given requirements file.
# Usage: scripts/bootstrap.sh requirements.txt|requirements-test.txt
set -euo pipefail
cd "$(dirname "$0")/.."
req="${1:-requirements.txt}"

pick_python() {
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    local v; v="$(cat .python-version 2>/dev/null || true)"
    if [ -n "$v" ] && pyenv prefix "$v" >/dev/null 2>&1; then
      candidates+=("$(pyenv prefix "$v")/bin/python")
    fi
  fi
  candidates+=(python3.13 python3.12 python3)
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "Python 3.12 or newer is needed (see .python-version)." >&2
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  rm -rf .venv
  "$(pick_python)" -m venv .venv
fi
stamp=".venv/.installed-$(cat "$req" requirements*.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
  touch "$stamp"
fi
