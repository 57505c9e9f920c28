#!/usr/bin/env bash
# scripts/demo.sh: the problem and the fix side by side, on a throwaway
# server.  CLIENTS concurrent clients each pay PAYMENTS payments of 1.00 into
# one enrollment, first with the application's read-compute-write, then with
# enrollment.apply_payment(); then a retry after a lost answer, both ways.
source "$(dirname "$0")/lib.sh"

CLIENTS=${CLIENTS:-8}
PAYMENTS=${PAYMENTS:-500}

ensure_packages
build_and_install
start_cluster

q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"; }

q "CREATE EXTENSION enrollment"
q "CREATE TABLE naive_enrollments (user_id text, course_id text,
     price numeric, amount_paid numeric, PRIMARY KEY (user_id, course_id))"
q "INSERT INTO naive_enrollments VALUES ('demo-user', 'demo-course', 1000000, 0)"
q "SELECT enrollment.enroll('demo-user', 'demo-course', 1000000)" >/dev/null

run() {	# run SCRIPT: pgbench, CLIENTS clients x PAYMENTS payments
	pgbench -n -c "$CLIENTS" -j 2 -t "$PAYMENTS" -f "$1" 2>/dev/null |
		sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p'
}

echo "Paying one enrollment: $CLIENTS clients x $PAYMENTS payments of 1.00 at the same time"
naive_ok=$(run scripts/demo/naive_payment.sql)
naive_paid=$(q "SELECT amount_paid FROM naive_enrollments")
ext_ok=$(run scripts/demo/extension_payment.sql)
ext_paid=$(q "SELECT amount_paid FROM enrollment.enrollments WHERE user_id = 'demo-user'")
ext_ledger=$(q "SELECT sum(amount) FROM enrollment.payments WHERE user_id = 'demo-user'")

printf '\n%-30s %10s %14s %14s\n' "approach" "payments" "amount_paid" "payments lost"
printf '%-30s %10s %14s %14s\n' "read-compute-write (client)" "$naive_ok" "$naive_paid" \
	"$(q "SELECT ($naive_ok - $naive_paid)::int")"
printf '%-30s %10s %14s %14s\n' "enrollment.apply_payment()" "$ext_ok" "$ext_paid" \
	"$(q "SELECT ($ext_ok - $ext_paid)::int")"
echo "(the extension's ledger sums to $ext_ledger)"

echo
echo "A retry after a lost answer: the same payment of 25.00 sent twice"
q "UPDATE naive_enrollments SET amount_paid = 0"
q "SELECT enrollment.enroll('demo-user', 'retry-course', 100)" >/dev/null
for attempt in 1 2; do
	q "UPDATE naive_enrollments SET amount_paid = amount_paid + 25.00"
	q "SELECT enrollment.apply_payment('demo-user', 'retry-course', 25.00, 'order-4711')" >/dev/null
done
printf '\n%-30s %14s\n' "approach" "amount_paid"
printf '%-30s %14s\n' "atomic increment (client)" "$(q "SELECT amount_paid FROM naive_enrollments")"
printf '%-30s %14s\n' "apply_payment() with a key" \
	"$(q "SELECT amount_paid FROM enrollment.enrollments WHERE course_id = 'retry-course'")"
echo
echo "Sent a third time, apply_payment() returns the first call's result:"
psql -X -c "SELECT payment_id, amount, amount_paid, amount_due, status, replayed
              FROM enrollment.apply_payment('demo-user', 'retry-course', 25.00, 'order-4711')"
