#!/usr/bin/env bash
# Replaces the official Peppol artifacts in src/kortfaktura/standards/peppol with a newer release.
#
#   scripts/update-peppol-rules.sh DIR
#
# DIR is laid out like src/kortfaktura/standards/peppol: rules/CEN-EN16931-UBL.xslt and
# rules/PEPPOL-EN16931-UBL.xslt (compiled Schematron, e.g. from phax/phive-rules'
# openpeppol/<release>/xslt/), examples/ (the release's official examples), and where they changed
# xsd/, sbdh/xsd/, invoice-response/ and mlr/. Each of these folders that DIR has replaces ours
# whole; the others stay. The new set is checked first, in a copy: every official example must
# pass the schema and the rules without a fatal finding (scripts/peppol_rules.py verify). Only
# then are the files swapped in and SOURCE.md's checksums written again; otherwise nothing
# changes and the script exits 1. Afterwards: update the release and origin columns of SOURCE.md,
# run the tests (./test.sh), and commit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
standards="$root/src/kortfaktura/standards"
parts=(rules examples xsd sbdh invoice-response mlr)

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "Användning: scripts/update-peppol-rules.sh KATALOG – katalogen med den nya utgåvan (rules/, examples/ …)." >&2
  exit 2
fi
source_dir="$(cd "$1" && pwd)"
if [ ! -f "$source_dir/rules/CEN-EN16931-UBL.xslt" ] || [ ! -f "$source_dir/rules/PEPPOL-EN16931-UBL.xslt" ]; then
  echo "Fel: $source_dir saknar rules/CEN-EN16931-UBL.xslt och rules/PEPPOL-EN16931-UBL.xslt – ange katalogen med den nya utgåvans regler." >&2
  exit 1
fi
python="${PYTHON:-}"
if [ -z "$python" ]; then
  [ -x "$root/.venv/bin/python" ] || "$root/scripts/ensure-venv.sh"
  python="$root/.venv/bin/python"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -a "$standards/peppol" "$work/peppol"
replaced=()
for part in "${parts[@]}"; do
  if [ -d "$source_dir/$part" ]; then
    rm -rf "${work:?}/peppol/$part"
    cp -a "$source_dir/$part" "$work/peppol/$part"
    replaced+=("$part")
  fi
done
chmod -R u+w,go-w "$work/peppol"
echo "Ersätter: ${replaced[*]}. Kör de officiella exemplen genom den nya uppsättningen …"
if ! "$python" "$root/scripts/peppol_rules.py" verify "$work/peppol"; then
  echo "Fel: den nya uppsättningen klarar inte de officiella exemplen (se ovan) – ingenting har ändrats." >&2
  exit 1
fi
# Swap in whole: the old set stays until the new one is complete beside it.
rm -rf "$standards/peppol.old"
mv "$standards/peppol" "$standards/peppol.old"
mv "$work/peppol" "$standards/peppol"
rm -rf "$standards/peppol.old"
"$python" "$root/scripts/peppol_rules.py" checksums "$standards"
echo "Klart: reglerna i $standards/peppol är ersatta och kontrollsummorna i SOURCE.md omskrivna."
echo "Uppdatera utgåva och ursprung i $standards/SOURCE.md, kör ./test.sh och checka in."
