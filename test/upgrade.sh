#!/usr/bin/env bash
# test/upgrade.sh: a fresh install of the default version and an install of
# 1.0 updated with ALTER EXTENSION ... UPDATE have the same schema.  Two
# databases: one with CREATE EXTENSION enrollment, one with version 1.0,
# enrollments and payments, then the update.  Their schemas are compared as
# pg_dump --schema-only writes them and, since that shows an extension as
# one CREATE EXTENSION line, as pg_dump --binary-upgrade writes them too:
# every member object's definition, with OIDs masked.  Needs a running
# server (PGHOST etc.) with the extension installed; prints one TAP line
# per check and drops its databases at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

FRESH=enrollment_upgrade_fresh
UPDATED=enrollment_upgrade_updated
WORK=$(mktemp -d /tmp/enrollment-upgrade.XXXXXX)
source test/tap.sh

sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

cleanup() {
	dropdb --if-exists "$FRESH"
	dropdb --if-exists "$UPDATED"
	rm -rf "$WORK"
}
trap cleanup EXIT
dropdb --if-exists "$FRESH" 2>/dev/null
dropdb --if-exists "$UPDATED" 2>/dev/null

createdb "$FRESH"
createdb "$UPDATED"
default=$(sql "$FRESH" "SELECT default_version FROM pg_available_extensions WHERE name = 'enrollment'")
sql "$FRESH" "CREATE EXTENSION enrollment"
sql "$UPDATED" "CREATE EXTENSION enrollment VERSION '1.0';
	SELECT count(enrollment.enroll('user-' || i, 'course', 100)) FROM generate_series(1, 50) i;
	SELECT count(enrollment.apply_payment('user-' || i, 'course', i, 'key-' || i))
	  FROM generate_series(1, 50) i;
	ALTER EXTENSION enrollment UPDATE" >/dev/null

tap "$(sql "$UPDATED" "SELECT extversion = '$default' FROM pg_extension WHERE extname = 'enrollment'")" \
	"ALTER EXTENSION enrollment UPDATE reaches the default version $default"

# dump DATABASE [OPTION]: the schema, without what differs between any two
# databases: the \restrict key of the dump, and the OIDs, LSNs and
# transaction ids that --binary-upgrade preserves, the sequence's position
dump() {
	pg_dump --schema-only "${@:2}" "$1" |
		grep -vE '^\\(un)?restrict |binary_upgrade_|^UPDATE pg_catalog\.pg_class$|^SET relfrozenxid|^WHERE oid = |^SELECT pg_catalog.setval\('
}

dump "$FRESH" >"$WORK/fresh.sql"
dump "$UPDATED" >"$WORK/updated.sql"
diff -u "$WORK/fresh.sql" "$WORK/updated.sql" | sed 's/^/# /' || true
tap "$(cmp -s "$WORK/fresh.sql" "$WORK/updated.sql" && echo t)" \
	"pg_dump --schema-only: the same for a fresh and an updated database"

dump "$FRESH" --binary-upgrade >"$WORK/fresh-members.sql"
dump "$UPDATED" --binary-upgrade >"$WORK/updated-members.sql"
diff -u "$WORK/fresh-members.sql" "$WORK/updated-members.sql" | head -40 | sed 's/^/# /' || true
tap "$(cmp -s "$WORK/fresh-members.sql" "$WORK/updated-members.sql" && echo t)" \
	"pg_dump --schema-only --binary-upgrade: every member of the extension is the same ($(grep -c '^ALTER EXTENSION enrollment ADD' "$WORK/fresh-members.sql") members)"
tap "$(grep -q 'CREATE FUNCTION enrollment.refund_payment' "$WORK/updated-members.sql" &&
	grep -q "ADD VALUE 'refunded'\|'refunded'" "$WORK/updated-members.sql" && echo t)" \
	"the member dump shows the objects of 1.1 (refund_payment(), the status refunded)"
tap "$(sql "$UPDATED" "SELECT count(*) = 0 FROM enrollment.verify()")" \
	"the updated database's enrollments agree with their ledger"

tap_done
