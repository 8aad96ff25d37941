#!/usr/bin/env bash
# Set everything up and run every check: lint, then the whole test suite on SQLite and on a real
# PostgreSQL that the tests start themselves, in parallel workers (pytest-xdist). Extra arguments go
# to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
set +e
# A worker per core and one more (at most 4): most tests wait on real servers, not on the CPU (on 2 cores,
# 3 workers take 9 minutes where 2 take 10.5). A test file per worker at a time: each file's servers start once.
workers=$(( $(nproc) + 1 ))
[ "$workers" -gt 4 ] && workers=4
.venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
