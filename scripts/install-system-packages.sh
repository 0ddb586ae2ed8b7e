#!/usr/bin/env bash
# Installs the Debian packages the tests and documents need, when they are missing.
set -euo pipefail
packages=(postgresql-client poppler-utils chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Saknade systempaket: ${missing[*]} – installera dem med apt-get (kräver root)." >&2
  exit 1
fi
echo "Installerar systempaket: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
