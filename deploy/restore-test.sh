#!/usr/bin/env bash
# Restore test: dump the database, drop it, restore the dump, and check that the audit
# chain is still intact. Run it against a copy (a staging database), never production:
#   DATABASE_URL=postgres://concord:...@127.0.0.1:5432/concord_staging deploy/restore-test.sh
# Exits non-zero when any step fails or the chain does not verify.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to the database to test (a copy, not production)}"
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
DUMP="${DUMP:-$(mktemp -d)/concord.dump}"

# The database name and a URL for the maintenance database on the same server.
DBNAME="$("$PYTHON" -c 'import os,urllib.parse as u; print(u.urlparse(os.environ["DATABASE_URL"]).path.lstrip("/"))')"
ADMIN_URL="$("$PYTHON" -c 'import os,urllib.parse as u; p=u.urlparse(os.environ["DATABASE_URL"]); print(p._replace(path="/postgres").geturl())')"

echo "verify before: $("$PYTHON" manage.py verify_audit)"
echo "dump $DBNAME -> $DUMP"
pg_dump --format=custom --no-owner --file="$DUMP" "$DATABASE_URL"
echo "drop and create $DBNAME"
psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -q -c "DROP DATABASE \"$DBNAME\" WITH (FORCE)" -c "CREATE DATABASE \"$DBNAME\""
echo "restore"
pg_restore --no-owner --exit-on-error --dbname="$DATABASE_URL" "$DUMP"
echo "verify after:"
"$PYTHON" manage.py verify_audit
