#!/usr/bin/env bash
# Sets up everything and runs the main job on the embedded SQLite database:
# a virtual environment, the project, the database (var/kortfaktura.sqlite3), the demo, and then
# the web application (kortfaktura serve), which says where to open it. Stop it with Ctrl+C.
# Extra arguments go to `kortfaktura demo`, e.g. ./demo.sh --reset.
# KORTFAKTURA_SERVE=0 ./demo.sh runs the demo only; PORT=8080 ./demo.sh serves on another port.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-venv.sh
.venv/bin/kortfaktura init
.venv/bin/kortfaktura demo "$@"
if [ "${KORTFAKTURA_SERVE:-1}" != "0" ]; then
  # The demo's delivery channels (README, step 10), unless set already: the web application's
  # Leveranser page then delivers to the demo's folders instead of refusing for want of a setting.
  export KORTFAKTURA_PEPPOL_OUTBOX="${KORTFAKTURA_PEPPOL_OUTBOX:-file://$PWD/var/demo/peppol/ut}"
  export KORTFAKTURA_PEPPOL_INBOX="${KORTFAKTURA_PEPPOL_INBOX:-file://$PWD/var/demo/peppol/in}"
  export KORTFAKTURA_PEPPOL_AP_ID="${KORTFAKTURA_PEPPOL_AP_ID:-0088:7300010000001}"
  export KORTFAKTURA_SMTP_URL="${KORTFAKTURA_SMTP_URL:-file://$PWD/var/demo/epost}"
  export KORTFAKTURA_MAIL_FROM="${KORTFAKTURA_MAIL_FROM:-gits-fakturor@vgregion.example}"
  export KORTFAKTURA_PRINT_DIR="${KORTFAKTURA_PRINT_DIR:-$PWD/var/demo/utskrift}"
  exec .venv/bin/kortfaktura serve --port "${PORT:-8000}"
fi
