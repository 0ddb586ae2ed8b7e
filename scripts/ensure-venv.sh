#!/usr/bin/env bash
# Creates .venv with Python 3.11 or newer (3.11, 3.12 and 3.13 are tested; python3.11 is
# preferred when there are several) and installs the project (with EXTRAS, e.g. "dev") when
# pyproject.toml changed since the last install. Sourced by demo.sh and test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
python="${PYTHON:-}"
if [ -n "$python" ]; then
  # An interpreter that is named must be new enough itself: no silent substitute.
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || python=""
else
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "Kortfaktura behöver Python 3.11 (python3.11 eller python3). Installera det, eller ange PYTHON=/sökväg/till/python3.11." >&2
  exit 1
fi
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "Skapar virtuell miljö i $venv …" >&2
  "$python" -m venv "$venv"
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
stamp="$venv/.installed-$(sha256sum "$root/pyproject.toml" | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  echo "Installerar kortfaktura${extras:+ med $extras} …" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  (cd "$root" && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" >&2)
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
