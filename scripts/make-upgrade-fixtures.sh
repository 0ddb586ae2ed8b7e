#!/usr/bin/env bash
# Builds the upgrade fixtures of tests/test_upgrade.py with the code of an OLD commit:
#
#   scripts/make-upgrade-fixtures.sh [COMMIT]
#
# COMMIT (default: the last commit before issue 18, whose schema the fixtures keep) is exported
# with `git archive` into a temporary directory and run from there with this checkout's virtual
# environment (the dependencies) and this checkout's shipped Peppol rules (the old code looked for
# them in ../shared/peppol). scripts/upgrade_fixture_data.py then fills an empty database through
# the old command line – on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (database
# kf_self_upgrade_build, dropped afterwards) – and writes what it holds to a manifest. Results in
# tests/fixtures/upgrade/:
#   kortfaktura-old.sqlite3        the SQLite file (VACUUM INTO: one file, no WAL)
#   kortfaktura-old.postgresql.sql pg_dump --format=plain --no-owner --no-privileges
#   sqlite.json, postgresql.json   each one's manifest: documents and their SHA-256, counts
#   SOURCE.md                      the commit and the date they were made
# Run it only to move the fixtures to a newer release on purpose: the point of the fixtures is
# that they were made by old code.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="${1:-68109980dc95c064dc5e36d89e22d887a0287066}"
target="$root/tests/fixtures/upgrade"
pg="${KORTFAKTURA_FIXTURE_PG:-postgres://postgres@127.0.0.1:5432}"
database=kf_self_upgrade_build

[ -x "$root/.venv/bin/python" ] || "$root/scripts/ensure-venv.sh"
python="$root/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"; dropdb --if-exists -h 127.0.0.1 -U postgres "$database" 2>/dev/null || true' EXIT
mkdir -p "$work/old" "$target"
git -C "$root" archive "$commit" src | tar -x -C "$work/old"

export PYTHONPATH="$work/old/src"
export KORTFAKTURA_PEPPOL_RULES_DIR="$root/src/kortfaktura/standards/peppol"
export DJANGO_SETTINGS_MODULE=kortfaktura.settings
export TZ=Europe/Stockholm
where="$("$python" -c 'import kortfaktura, sys; sys.stdout.write(kortfaktura.__file__)')"
case "$where" in
  "$work/old/"*) ;;
  *) echo "Fel: den gamla koden laddas inte (kortfaktura kommer från $where)." >&2; exit 1 ;;
esac

echo "== SQLite, koden i $commit =="
rm -f "$target/kortfaktura-old.sqlite3"
(
  export KORTFAKTURA_DATA_DIR="$work/sqlite/var"
  unset DATABASE_URL
  cd "$work" && "$python" "$root/scripts/upgrade_fixture_data.py" "$work/sqlite" "$target/sqlite.json"
  "$python" - "$work/sqlite/var/kortfaktura.sqlite3" "$target/kortfaktura-old.sqlite3" <<'PY'
import re, sqlite3, sys
source = sqlite3.connect(sys.argv[1])
copy = sqlite3.connect(sys.argv[2])
source.backup(copy)
source.close()
# The schema's checks call REGEXP, which Django gives its connections; VACUUM needs it too.
copy.create_function("REGEXP", 2, lambda pattern, text: bool(re.search(pattern, text or "")))
copy.execute("PRAGMA journal_mode=DELETE")
copy.execute("VACUUM")
assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
copy.close()
PY
)

echo "== PostgreSQL ($pg/$database), koden i $commit =="
dropdb --if-exists -h 127.0.0.1 -U postgres "$database"
createdb -h 127.0.0.1 -U postgres "$database"
(
  export DATABASE_URL="$pg/$database"
  export KORTFAKTURA_DATA_DIR="$work/postgresql/var"
  cd "$work" && "$python" "$root/scripts/upgrade_fixture_data.py" "$work/postgresql" "$target/postgresql.json"
)
pg_dump -h 127.0.0.1 -U postgres --format=plain --no-owner --no-privileges \
  -f "$target/kortfaktura-old.postgresql.sql" "$database"

cat > "$target/SOURCE.md" <<MD
# Upgrade fixtures

Made by \`scripts/make-upgrade-fixtures.sh\` on $(date -u +%Y-%m-%d) with the code of commit
\`$commit\`, the last release before issue 18: its schema, its data, its stored
documents. \`tests/test_upgrade.py\` upgrades
copies of them with today's \`kortfaktura init\` and compares with the manifests
(\`sqlite.json\`, \`postgresql.json\`). PostgreSQL dump: $(pg_dump --version).
MD
echo "Klart: $target"
ls -la "$target"
