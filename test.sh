#!/usr/bin/env bash
# Runs the whole test suite, doing its own set-up: virtual environment with the dev tools,
# then lint (ruff), format check, type check (mypy) and pytest.
# The database is SQLite unless DATABASE_URL points at PostgreSQL (the tests create their own
# test database there). Extra arguments go to pytest, e.g. ./test.sh -k orders -x
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-venv.sh dev
# KORTFAKTURA_SKIP_LINT=1 (CI's second run, on the same tree) leaves the checks to the first.
if [ "${KORTFAKTURA_SKIP_LINT:-0}" != "1" ]; then
  echo "== ruff check ==" && .venv/bin/ruff check src tests bench
  echo "== ruff format --check ==" && .venv/bin/ruff format --check src tests bench
  echo "== mypy ==" && .venv/bin/mypy
fi
if [ -n "${DATABASE_URL:-}" ]; then
  echo "== pytest på PostgreSQL (${DATABASE_URL}) =="
else
  echo "== pytest på SQLite =="
fi
exec .venv/bin/pytest "$@"
