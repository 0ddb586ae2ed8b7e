#!/usr/bin/env bash
# Sets up everything and runs the main job on the embedded SQLite database:
# a virtual environment, the project, the database (var/kortfaktura.sqlite3), the demo, and then
# the web application (kortfaktura serve), which says where to open it. Stop it with Ctrl+C.
# Extra arguments go to `kortfaktura demo`, e.g. ./demo.sh --reset. The demo here has 500 orders
# a year (2019 to last month, the whole story, about 1,300 documents) so that it is done within a
# minute and a half on two cores; ./demo.sh --orders-per-year 30000 runs the full one (as
# `kortfaktura demo` does by default), which takes several minutes.
# KORTFAKTURA_SERVE=0 ./demo.sh runs the demo only; PORT=8080 ./demo.sh serves on another port.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-venv.sh
SECONDS=0  # the demo's own time, without the installation above
.venv/bin/kortfaktura init
.venv/bin/kortfaktura demo --orders-per-year 500 "$@"
echo "Demon tog $((SECONDS / 60)) min $((SECONDS % 60)) s (installationen före den inte medräknad)."
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
