#!/usr/bin/env bash
# Set everything up and run the service on the embedded default (SQLite in ./data, the Mường La
# 2025 plan, the built-in website served at http://127.0.0.1:8080/). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/cchc config check
.venv/bin/cchc init
exec .venv/bin/cchc run
