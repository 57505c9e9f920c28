#!/usr/bin/env bash
# test/dump_restore.sh: pg_dump -Fc of a database with enrollments and
# payments, pg_restore into a new database (and, in one transaction, into
# another), then checks that every row of both tables came back unchanged,
# that the ledger's identity continues above the restored payment ids, that
# the functions work (a new payment, replays of keys paid before the dump),
# that the ledger still refuses UPDATE, DELETE and TRUNCATE, and that
# verify() finds nothing wrong.
#   test/dump_restore.sh                dump and restore on this server
#   test/dump_restore.sh --dump DIR     only the dump, kept in DIR with what
#                                       the restore compares against
#   test/dump_restore.sh --restore DIR  only the restore of DIR's dump, on a
#                                       server of a later major, say
#   test/dump_restore.sh --populate DIR only the source database, kept, and
#                                       in DIR what --check compares against
#   test/dump_restore.sh --check DIR    the same checks as after a restore,
#                                       on the source database itself (after
#                                       pg_upgrade: test/pg_upgrade.sh)
# Needs a running server (PGHOST etc.) with the extension installed; prints
# one TAP line per check and drops its databases at the end (but the source
# database with --populate).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-both}
SOURCE=enrollment_dump_source
TARGET=enrollment_dump_target
TARGET_1=enrollment_dump_target_1
KEYS="order-1 order-2 order-3"
case $MODE in
both) WORK=$(mktemp -d /tmp/enrollment-dump.XXXXXX) ;;
--dump | --restore | --populate | --check)
	WORK=${2:?"$MODE needs a folder"} && mkdir -p "$WORK" ;;
*) echo "usage: $0 [--dump DIR | --restore DIR | --populate DIR | --check DIR]" >&2 && exit 2 ;;
esac
source test/tap.sh

sql() {		# sql DATABASE STATEMENT: the result unaligned, errors as SQLSTATEs
	psql -X -q -t -A -d "$1" -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$2"
}

# Every column of both tables in a fixed order, enrollments then the ledger.
tables_in_order() {
	sql "$1" "COPY (SELECT * FROM enrollment.enrollments ORDER BY user_id, course_id) TO STDOUT"
	sql "$1" "COPY (SELECT * FROM enrollment.payments ORDER BY payment_id) TO STDOUT"
}

drop_databases() {
	dropdb --if-exists "$SOURCE"
	dropdb --if-exists "$TARGET"
	dropdb --if-exists "$TARGET_1"
}
cleanup() {
	[ "$MODE" = --populate ] || drop_databases
	[ "$MODE" != both ] || rm -rf "$WORK"
}
trap "cleanup 2>/dev/null" EXIT
[ "$MODE" = --check ] || drop_databases 2>/dev/null

# populate: the source database, and what a restore or an upgrade must find
populate() {
	createdb "$SOURCE"
	psql -X -q -d "$SOURCE" -v ON_ERROR_STOP=1 >/dev/null <<-'EOF'
	CREATE EXTENSION enrollment;
	SELECT enrollment.enroll('alice', 'math', 100.00);
	SELECT enrollment.enroll('alice', 'art', 5000, 'JPY');
	SELECT enrollment.enroll('bob', 'math', 12.345, 'KWD');
	SELECT enrollment.enroll('carol', 'math', 0);
	SELECT enrollment.enroll('dave', 'math', 20);
	SELECT enrollment.apply_payment('alice', 'math', 25.50, 'order-1');
	SELECT enrollment.apply_payment('alice', 'math', 10);
	SELECT enrollment.pay_remaining_balance('alice', 'math', 'order-2');
	SELECT enrollment.apply_payment('alice', 'art', 1000);
	SELECT * FROM enrollment.apply_payments('[
		{"user_id": "bob", "course_id": "math", "amount": 1.005, "idempotency_key": "order-3"},
		{"user_id": "bob", "course_id": "math", "amount": 2}]');
	SELECT enrollment.enroll('erin', 'math', 30);
	SELECT enrollment.apply_payment('erin', 'math', 10);
	SELECT enrollment.cancel_enrollment('erin', 'math', 'moved away');
	SELECT enrollment.enroll('frank', 'math', 15);
	SELECT enrollment.pay_remaining_balance('frank', 'math');
	SELECT enrollment.refund_payment('frank', 'math', 15, reason => 'duplicate order');
	EOF

	tap "$(sql "$SOURCE" "SELECT count(*) = 7 AND count(*) FILTER (WHERE status = 'paid') = 2
	                          AND count(*) FILTER (WHERE status = 'partial') = 2
	                          AND count(*) FILTER (WHERE status = 'pending') = 1
	                          AND count(*) FILTER (WHERE status = 'cancelled') = 1
	                          AND count(*) FILTER (WHERE status = 'refunded') = 1
	                     FROM enrollment.enrollments")" \
		"the source database: 7 enrollments, 2 paid, 2 partial, 1 pending, 1 cancelled, 1 refunded"
	tap "$(sql "$SOURCE" "SELECT count(*) = 10 AND count(idempotency_key) = 3
	                     FROM enrollment.payments")" \
		"the source database: 10 ledger rows, 3 of them with an idempotency key"

	# what the restore compares against: the rows, the last payment_id, the
	# payments the keys name, the major that dumped
	tables_in_order "$SOURCE" >"$WORK/before.txt"
	sql "$SOURCE" "SELECT max(payment_id) FROM enrollment.payments" >"$WORK/last_id.txt"
	for key in $KEYS; do
		sql "$SOURCE" "SELECT (payment_id, amount, created_at)::text
	                      FROM enrollment.payments WHERE idempotency_key = '$key'" >"$WORK/$key.txt"
	done
	sql "$SOURCE" "SELECT current_setting('server_version_num')::int / 10000" >"$WORK/major.txt"
}

# dump: the source database's dump
dump() {
	status=0
	pg_dump -Fc -f "$WORK/dump" "$SOURCE" 2>"$WORK/dump.log" || status=$?
	cat "$WORK/dump.log"
	tap "$([ "$status" -eq 0 ] && [ ! -s "$WORK/dump.log" ] && echo t)" \
		"pg_dump -Fc on PostgreSQL $(cat "$WORK/major.txt") succeeds without a message"
}

# restore: the dump in $WORK into new databases, checked
restore() {
	local dumped_by
	dumped_by="PostgreSQL $(cat "$WORK/major.txt")"

	createdb "$TARGET"
	status=0
	pg_restore -d "$TARGET" "$WORK/dump" 2>"$WORK/restore.log" || status=$?
	cat "$WORK/restore.log"
	tap "$([ "$status" -eq 0 ] && [ ! -s "$WORK/restore.log" ] && echo t)" \
		"pg_restore of a dump of $dumped_by into a new database succeeds without a message"

	same_rows "$TARGET" "every enrollment and ledger row is restored unchanged"

	# in one transaction, CREATE EXTENSION and the rows that use its statuses
	createdb "$TARGET_1"
	status=0
	pg_restore --single-transaction -d "$TARGET_1" "$WORK/dump" 2>"$WORK/restore_1.log" || status=$?
	cat "$WORK/restore_1.log"
	tables_in_order "$TARGET_1" >"$WORK/after_1.txt" 2>&1 || true
	tap "$([ "$status" -eq 0 ] && [ ! -s "$WORK/restore_1.log" ] &&
		cmp -s "$WORK/before.txt" "$WORK/after_1.txt" && echo t)" \
		"pg_restore --single-transaction succeeds without a message and restores every row unchanged"

	still_works "$TARGET" "the restore"
}

# same_rows DATABASE DESCRIPTION: its tables hold what populate left
same_rows() {
	tables_in_order "$1" >"$WORK/after.txt"
	diff "$WORK/before.txt" "$WORK/after.txt" | head -20 || true
	tap "$(cmp -s "$WORK/before.txt" "$WORK/after.txt" && echo t)" \
		"$2 ($(wc -l <"$WORK/after.txt") rows)"
}

# still_works DATABASE EVENT: after EVENT (a restore, an upgrade) into
# DATABASE, payments, replays, the append-only ledger and verify() work
still_works() {
	local db=$1 after="after $2"
	# a new payment: the identity continues above the ids paid before
	last_id=$(cat "$WORK/last_id.txt")
	tap "$(sql "$db" "SELECT payment_id > $last_id AND NOT replayed AND status = 'paid'
	                     FROM enrollment.apply_payment('dave', 'math', 20, 'order-4')")" \
		"a new payment $after works and gets a payment_id above $last_id"

	# replays of keys paid before the dump return the original payment
	for call in "apply_payment('alice', 'math', 25.50, 'order-1')" \
		"pay_remaining_balance('alice', 'math', 'order-2')" \
		"apply_payments('[{\"user_id\": \"bob\", \"course_id\": \"math\", \"amount\": 1.005, \"idempotency_key\": \"order-3\"}]')"; do
		key=$(grep -o "order-[0-9]" <<<"$call")
		original=$(cat "$WORK/$key.txt")
		tap "$(sql "$db" "SELECT replayed AND (payment_id, amount, created_at)::text = \$\$$original\$\$
	                         FROM enrollment.$call")" \
			"${call%%(*}() with key $key $after replays the original payment"
	done

	# the ledger is still append-only, under session_replication_role = replica too
	for change in "UPDATE enrollment.payments SET amount = amount" \
		"DELETE FROM enrollment.payments" \
		"TRUNCATE enrollment.payments" \
		"SET session_replication_role = replica; DELETE FROM enrollment.payments"; do
		tap "$([ "$(sql "$db" "$change" 2>&1)" = "ERROR:  23E05" ] && echo t)" \
			"$after, $change raises 23E05"
	done
	tap "$(sql "$db" "SELECT count(*) = 11 FROM enrollment.payments")" \
		"$after, the ledger holds its 10 rows and the new payment"
	tap "$(sql "$db" "SELECT count(*) = 0 FROM enrollment.verify()")" \
		"$after, verify() finds every enrollment in agreement with its ledger"
}

case $MODE in
both) populate && dump && restore ;;
--dump) populate && dump ;;
--restore) restore ;;
--populate) populate ;;
--check)
	same_rows "$SOURCE" "every enrollment and ledger row is unchanged"
	still_works "$SOURCE" "the upgrade"
	;;
esac
tap_done
