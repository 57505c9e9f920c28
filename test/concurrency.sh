#!/usr/bin/env bash
# test/concurrency.sh: pgbench drives 16 concurrent clients through
# apply_payment(), on one hot enrollment and on 200 enrollments, then checks
# that no payment was lost or counted twice.  Needs a running server (PGHOST
# etc.) with the extension installed; prints one TAP line per check.  Works
# in a database of its own, or in $CONCURRENCY_DB where the extension is
# created already (test/citus.sh: the distributed tables), which it keeps.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-16}
PER_CLIENT=${PER_CLIENT:-250}
DB=${CONCURRENCY_DB:-enrollment_concurrency}
source test/tap.sh

sql() { psql -X -q -t -A -d "$DB" -v ON_ERROR_STOP=1 -c "$1"; }

# Run a pgbench script; prints the number of transactions it completed.
bench() {
	local out
	out=$(pgbench -n -M prepared -c "$CLIENTS" -j 2 -t "$PER_CLIENT" \
		-f "$1" "$DB" 2>&1) || { echo "$out" >&2; echo 0; return; }
	sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out"
}

if [ -z "${CONCURRENCY_DB:-}" ]; then
	dropdb --if-exists "$DB" 2>/dev/null
	createdb "$DB"
	sql "CREATE EXTENSION enrollment"
fi

total=$((CLIENTS * PER_CLIENT))

# one hot enrollment
sql "SELECT enrollment.enroll('hot-user', 'hot-course', 1000000)" >/dev/null
done_hot=$(bench test/pgbench/hot_payment.sql)
tap "$([ "$done_hot" = "$total" ] && echo t)" \
	"hot enrollment: all $total payments from $CLIENTS clients succeeded ($done_hot)"
tap "$(sql "SELECT amount_paid = $total * 0.01 FROM enrollment.enrollments
             WHERE user_id = 'hot-user'")" \
	"hot enrollment: amount_paid is $total cents, none lost"
tap "$(sql "SELECT count(*) = $total AND sum(amount) = $total * 0.01
              FROM enrollment.payments WHERE user_id = 'hot-user'")" \
	"hot enrollment: the ledger has $total rows summing to amount_paid"

# 200 enrollments, random amounts, every call retried with its key
sql "SELECT count(enrollment.enroll('user-' || i, 'course-1', 1000000))
       FROM generate_series(1, 200) i" >/dev/null
done_spread=$(bench test/pgbench/spread_payment.sql)
tap "$([ "$done_spread" = "$total" ] && echo t)" \
	"200 enrollments: all $total payment-and-retry pairs succeeded ($done_spread)"
tap "$(sql "SELECT count(*) = $total FROM enrollment.payments
             WHERE user_id LIKE 'user-%'")" \
	"200 enrollments: each retried payment is in the ledger once"
tap "$(sql "SELECT count(*) = count(DISTINCT (user_id, idempotency_key))
              FROM enrollment.payments WHERE idempotency_key IS NOT NULL")" \
	"200 enrollments: no idempotency key twice"

# invariants over every enrollment this test paid into
OWN="(user_id = 'hot-user' OR user_id LIKE 'user-%')"
tap "$(sql "SELECT bool_and(e.amount_paid = coalesce(l.total, 0))
              FROM enrollment.enrollments e
              LEFT JOIN (SELECT user_id, course_id, sum(amount) AS total
                           FROM enrollment.payments GROUP BY 1, 2) l
                     USING (user_id, course_id)
             WHERE $OWN")" \
	"every enrollment: amount_paid equals its ledger sum"
tap "$(sql "SELECT bool_and(amount_paid + amount_due = price
                      AND status = CASE WHEN amount_due = 0 THEN 'paid'
                                        WHEN amount_paid = 0 THEN 'pending'
                                        ELSE 'partial' END::enrollment.payment_status)
              FROM enrollment.enrollments WHERE $OWN")" \
	"every enrollment: amounts add up and status agrees with them"

[ -n "${CONCURRENCY_DB:-}" ] || dropdb "$DB"
tap_done
