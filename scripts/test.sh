#!/usr/bin/env bash
# Set everything up and run every check: lint, then the whole test suite on SQLite and on a real
# PostgreSQL that the tests start themselves, in parallel workers (pytest-xdist). Extra arguments go
# to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
set +e
# One worker per core (at most 4), a test file per worker at a time: each file's servers start once.
.venv/bin/python -m pytest -n auto --maxprocesses 4 --dist loadfile "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
