#!/usr/bin/env bash
# Sets up everything and runs the main job on the embedded SQLite database:
# a virtual environment, the project, the database (var/kortfaktura.sqlite3) and the demo.
# Extra arguments go to `kortfaktura demo`, e.g. ./demo.sh --reset
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-venv.sh
.venv/bin/kortfaktura init
exec .venv/bin/kortfaktura demo "$@"
