#!/usr/bin/env bash
# test/citus.sh: the extension on a real Citus cluster.  A coordinator and
# two workers on 127.0.0.1 (three throwaway clusters with
# shared_preload_libraries = citus), citus and enrollment created on every
# node, then the recipe of docs/scaling.md, read from that file
# (the blocks after "<!-- test/citus.sh runs this block -->").  Through the
# coordinator: every function, replays and refusals with their SQLSTATEs, a
# batch across both workers (all or nothing), which worker ran each
# delegated call (from the workers' own statistics) and on which path, the
# append-only trigger on the shards, unique payment ids across nodes,
# events sent by the worker, pgbench on a hot enrollment and on many
# (test/concurrency.sh), the fault client of test/fault/ while a worker's
# backends are terminated and a worker restarts, a shard move while
# payments run, and a third worker added and rebalanced onto.
#   bash test/citus.sh
# Needs Citus installed for this machine's PostgreSQL (Citus 13.2 supports
# 15 to 17); builds and installs it first from ../shared/citus if that
# folder is there (once; then reused), else prints that the suite was
# skipped.  Runs as root (the servers as the postgres user) or as their
# owner; prints one TAP line per check.
source "$(dirname "$0")/fault/common.sh"	# scripts/lib.sh, test/tap.sh, $WORK
source test/citus_cluster.sh

NEW_WORKER=$((COORDINATOR + 3))
need_citus
build_and_install
unset PGPORT PGDATABASE PGOPTIONS

# sqlstate_of STATEMENT: the SQLSTATE it fails with on the coordinator
sqlstate_of() { coordinator "$1" 2>&1 >/dev/null | sed -n 's/^ERROR:  //p'; }

# worker_of USER: the port of the worker holding that user's shards
worker_of() {
	coordinator "SELECT nodeport FROM pg_dist_shard_placement
	              WHERE shardid = get_shard_id_for_distribution_column('enrollment.enrollments', '$1')"
}

# user_on PORT PREFIX: the first user PREFIX-N whose shards that worker holds
user_on() {
	coordinator "SELECT u FROM generate_series(1, 1000) i, LATERAL (SELECT '$2-' || i AS u) n
	              WHERE (SELECT nodeport FROM pg_dist_shard_placement
	                      WHERE shardid = get_shard_id_for_distribution_column('enrollment.enrollments', u)) = $1
	              ORDER BY i LIMIT 1"
}

# ids_set_on PORT: t when that node's copy of the ledger's sequence steps
# by 1024 from an id equal to its Citus group modulo 1024, as the
# statement sets it
ids_set_on() {
	on "$1" "SELECT increment_by = 1024 AND start_value % 1024 = (SELECT groupid FROM pg_dist_local_group)
	          FROM pg_sequences WHERE schemaname = 'enrollment' AND sequencename = 'payments_payment_id_seq'"
}

# push_ids PORT: move that node's sequence a million steps above every id
# in the ledger, so that the next row of an enrollment it wrote, written
# by another node, must jump
push_ids() {
	local issued
	issued=$(coordinator "SELECT max(payment_id) FROM enrollment.payments")
	on "$1" "SELECT setval('enrollment.payments_payment_id_seq',
	                       last_value + (greatest($issued - last_value, 0) / 1024 + 1000000) * 1024)
	           FROM enrollment.payments_payment_id_seq" >/dev/null
}

# in_id_order PATTERN: t when the ledger rows of every enrollment of the
# users LIKE PATTERN, in payment_id order, are in the order they were written
in_id_order() {
	coordinator "SELECT count(*) = 0 FROM (
	               SELECT created_at < lag(created_at) OVER w AS earlier FROM enrollment.payments
	                WHERE user_id LIKE '$1' WINDOW w AS (PARTITION BY user_id, course_id ORDER BY payment_id)) r
	              WHERE earlier"
}

# calls_on PORT FUNCTION: how often that node ran FUNCTION, by its own
# statistics, which a backend reports when idle (within 10 s)
calls_on() {
	on "$1" "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions
	          WHERE schemaname = 'enrollment' AND funcname = '$2'"
}

# -- the cluster ------------------------------------------------------------

start_citus_cluster
coordinator "CREATE EXTENSION enrollment"
version=$(coordinator "SELECT extversion FROM pg_extension WHERE extname = 'enrollment'")
tap "$(for port in "${WORKERS[@]}"; do
	[ "$(on "$port" "SELECT extversion FROM pg_extension WHERE extname = 'enrollment'")" = "$version" ] || exit
done && echo t)" "CREATE EXTENSION enrollment on the coordinator creates version $version on both workers"

# recipe FILE: run $WORK/FILE, blocks of the recipe, on the
# coordinator (exit status in $status; its output after a failure)
recipe() {
	status=0
	psql -X -q -h 127.0.0.1 -p "$COORDINATOR" -v ON_ERROR_STOP=1 -f "$WORK/$1" \
		>"$WORK/$1.log" 2>&1 || status=$?
	[ "$status" -eq 0 ] || cat "$WORK/$1.log"
}
# the recipe: its tables, then its functions
{ recipe_block 1; recipe_block 2; } >"$WORK/recipe.sql"
recipe recipe.sql
tap "$([ "$status" -eq 0 ] && [ -s "$WORK/recipe.sql" ] && echo t)" \
	"the recipe ($(wc -l <"$WORK/recipe.sql") lines) runs on the coordinator without an error"
recipe_block 2 >"$WORK/functions.sql"
recipe_block 3 >"$WORK/ids.sql"
# give_ids: run the recipe's ids statement (output in $WORK/ids.log, exit
# status in $status)
give_ids() {
	status=0
	psql -X -q -t -A -h 127.0.0.1 -p "$COORDINATOR" -v ON_ERROR_STOP=1 -f "$WORK/ids.sql" \
		>"$WORK/ids.log" 2>&1 || status=$?
}
give_ids
tap "$([ "$status" -eq 0 ] && [ "$(grep -c '|t|DO$' "$WORK/ids.log")" -eq 3 ] &&
	for port in "$COORDINATOR" "${WORKERS[@]}"; do [ "$(ids_set_on "$port")" = t ] || exit; done && echo t)" \
	"the recipe's statement gives each of the three nodes its payment ids"
[ "$status" -eq 0 ] || cat "$WORK/ids.log"

tap "$(coordinator "SELECT count(*) = 3
                      AND count(*) FILTER (WHERE logicalrelid = 'enrollment.currencies'::regclass
                                             AND partmethod = 'n') = 1
                      AND count(DISTINCT colocationid) FILTER (WHERE partmethod = 'h') = 1
                      AND bool_and(partmethod = 'n' OR column_to_column_name(logicalrelid, partkey) = 'user_id')
                 FROM pg_dist_partition WHERE logicalrelid::text LIKE 'enrollment.%'")" \
	"currencies is a reference table; enrollments and payments are distributed by user_id, colocated"
# delegated: the functions of the extension Citus delegates by their first
# argument; nothing else of it is in pg_dist_object
delegated() {
	coordinator "SELECT string_agg(p.proname, ' ' ORDER BY p.proname)
	               FROM pg_dist_object o JOIN pg_proc p ON p.oid = o.objid
	              WHERE o.classid = 'pg_proc'::regclass AND p.pronamespace = 'enrollment'::regnamespace
	                AND o.distribution_argument_index IS NOT DISTINCT FROM 0
	             HAVING count(*) = (SELECT count(*) FROM pg_dist_object d JOIN pg_proc q ON q.oid = d.objid
	                                 WHERE d.classid = 'pg_proc'::regclass
	                                   AND q.pronamespace = 'enrollment'::regnamespace)"
}
DELEGATED_1_1="apply_payment cancel_enrollment change_price enroll history import_enrollment pay_remaining_balance refund_payment"
tap "$([ "$(delegated)" = "$DELEGATED_1_1" ] && echo t)" \
	"the eight functions that take a user_id first are delegated by it, and nothing else"

# -- the whole contract through the coordinator ------------------------------

ann=$(user_on "${WORKERS[0]}" ann)
ben=$(user_on "${WORKERS[1]}" ben)
tap "$([ -n "$ann" ] && [ -n "$ben" ] && echo t)" \
	"$ann's shards are on the first worker, $ben's on the second"

coordinator "SELECT enrollment.enroll('$ann', 'math', 100.00)" >/dev/null
coordinator "SELECT enrollment.enroll('$ben', 'math', 50.00)" >/dev/null
tap "$([ "$(sqlstate_of "SELECT enrollment.enroll('$ann', 'math', 100.00)")" = 23E01 ] && echo t)" \
	"enroll() of an existing enrollment raises 23E01"
tap "$([ "$(sqlstate_of "SELECT enrollment.enroll('$ann', 'art', 10, 'XYZ')")" = 22E02 ] && echo t)" \
	"enroll() with an unknown currency (the reference table) raises 22E02"

first=$(coordinator "SELECT NOT replayed AND amount_paid = 25.00 AND status = 'partial',
                            (payment_id, amount_paid, status)::text
                       FROM enrollment.apply_payment('$ann', 'math', 25.00, 'order-1')")
tap "${first%%|*}" "apply_payment() with a key pays 25.00: ${first#*|}"
first=${first#*|}
replay=$(coordinator "SELECT replayed, (payment_id, amount_paid, status)::text
                        FROM enrollment.apply_payment('$ann', 'math', 25.00, 'order-1')")
tap "$([ "$replay" = "t|$first" ] && echo t)" \
	"apply_payment() again with that key replays the original payment"
tap "$([ "$(sqlstate_of "SELECT enrollment.apply_payment('$ann', 'math', 30.00, 'order-1')")" = 23E04 ] && echo t)" \
	"the key with another amount raises 23E04"
tap "$([ "$(sqlstate_of "SELECT enrollment.apply_payment('$ann', 'math', 500)")" = 23E03 ] && echo t)" \
	"an overpayment raises 23E03"
tap "$([ "$(sqlstate_of "SELECT enrollment.apply_payment('$ann', 'nothing', 5)")" = 23E02 ] && echo t)" \
	"a payment for no enrollment raises 23E02"
tap "$(coordinator "SELECT status = 'partial' AND amount_paid = 35.00 AND NOT replayed
                     FROM enrollment.apply_payment('$ann', 'math', 10.00)")" \
	"apply_payment() without a key pays 10.00"
tap "$([ "$(sqlstate_of "SELECT enrollment.pay_remaining_balance('$ann', 'math', 'order-2', 1.00)")" = 55E02 ] && echo t)" \
	"pay_remaining_balance() with a wrong expected amount raises 55E02"
tap "$(coordinator "SELECT status = 'paid' AND amount = 65.00 AND amount_due = 0
                     FROM enrollment.pay_remaining_balance('$ann', 'math', 'order-2', 65.00)")" \
	"pay_remaining_balance() pays the 65.00 due"
tap "$([ "$(sqlstate_of "SELECT enrollment.apply_payment('$ann', 'math', 1)")" = 55E01 ] && echo t)" \
	"a payment of a paid enrollment raises 55E01"
tap "$(coordinator "SELECT status = 'partial' AND amount_paid = 90.00
                     FROM enrollment.refund_payment('$ann', 'math', 10.00, 'refund-1', 'goodwill')")" \
	"refund_payment() refunds 10.00"
tap "$([ "$(sqlstate_of "SELECT enrollment.refund_payment('$ann', 'math', 1000)")" = 23E06 ] && echo t)" \
	"a refund above what is paid raises 23E06"
tap "$(coordinator "SELECT status = 'paid' AND price = 90.00
                     FROM enrollment.change_price('$ann', 'math', 90.00, 'discount')")" \
	"change_price() lowers the price to what is paid"
tap "$([ "$(sqlstate_of "SELECT enrollment.change_price('$ann', 'math', 1.00)")" = 23E07 ] && echo t)" \
	"a price below what is paid raises 23E07"
tap "$(coordinator "SELECT status = 'cancelled'
                     FROM enrollment.cancel_enrollment('$ben', 'math', 'changed plans')")" \
	"cancel_enrollment() cancels $ben's enrollment"
tap "$([ "$(sqlstate_of "SELECT enrollment.apply_payment('$ben', 'math', 1)")" = 55E03 ] && echo t)" \
	"a payment of a cancelled enrollment raises 55E03"
tap "$(coordinator "SELECT status = 'partial' AND amount_paid = 20 AND amount_due = 30
                     FROM enrollment.import_enrollment('$ben', 'physics', 50, 20, 'USD',
                                                       '2024-01-15 10:00:00+00')")" \
	"import_enrollment() moves in an existing balance"
tap "$(coordinator "SELECT count(*) = 5 AND count(*) FILTER (WHERE kind = 'refund') = 1
                     FROM enrollment.history('$ann', 'math')")" \
	"history() lists $ann's five events"
tap "$(coordinator "SELECT count(*) = 0 FROM enrollment.verify()")" \
	"verify() on the coordinator finds every enrollment in agreement with its ledger"

# -- a batch across both workers ---------------------------------------------

coordinator "SELECT enrollment.enroll('$ann', 'chemistry', 40)" >/dev/null
coordinator "SELECT enrollment.enroll('$ben', 'chemistry', 40)" >/dev/null
tap "$(coordinator "SELECT count(*) = 2 AND bool_and(status = 'partial')
                     FROM enrollment.apply_payments('[
                       {\"user_id\": \"$ann\", \"course_id\": \"chemistry\", \"amount\": 5, \"idempotency_key\": \"batch-1\"},
                       {\"user_id\": \"$ben\", \"course_id\": \"chemistry\", \"amount\": 7}]')")" \
	"apply_payments() with items on both workers applies both"
before=$(coordinator "SELECT string_agg(amount_paid::text, ',' ORDER BY user_id)
                        FROM enrollment.enrollments WHERE course_id = 'chemistry'")
tap "$([ "$(sqlstate_of "SELECT * FROM enrollment.apply_payments('[
                       {\"user_id\": \"$ann\", \"course_id\": \"chemistry\", \"amount\": 5},
                       {\"user_id\": \"$ben\", \"course_id\": \"chemistry\", \"amount\": 500}]')")" = 23E03 ] &&
	[ "$(coordinator "SELECT string_agg(amount_paid::text, ',' ORDER BY user_id)
                        FROM enrollment.enrollments WHERE course_id = 'chemistry'")" = "$before" ] && echo t)" \
	"a batch whose item on the second worker overpays raises 23E03 and changes nothing on the first"

# -- delegation: which node ran each call, and on which path ------------------

for port in "$COORDINATOR" "${WORKERS[@]}"; do
	on "$port" "SELECT pg_stat_reset(); SELECT pg_stat_statements_reset()" >/dev/null
done
for i in 1 2 3; do
	coordinator "SELECT enrollment.apply_payment('$ann', 'chemistry', 1)" >/dev/null
done
for _ in $(seq 30); do
	[ "$(calls_on "${WORKERS[0]}" apply_payment)" -ge 3 ] && break
	sleep 1
done
tap "$([ "$(calls_on "${WORKERS[0]}" apply_payment)" = 3 ] &&
	[ "$(calls_on "${WORKERS[1]}" apply_payment)" = 0 ] &&
	[ "$(calls_on "$COORDINATOR" apply_payment)" = 0 ] && echo t)" \
	"three apply_payment() calls for $ann ran on her worker, none on the other nodes (pg_stat_user_functions)"
tap "$(on "${WORKERS[0]}" "SELECT count(*) > 0 FROM pg_stat_statements
                            WHERE query LIKE '%FOR NO KEY UPDATE%' AND query LIKE '%enrollment.enrollments%'")" \
	"there, table_access = auto chose sql: the worker ran the SQL path's locking statement"
tap "$(on "${WORKERS[0]}" "LOAD 'enrollment'; SHOW enrollment.table_access" | tail -1 | grep -qx auto &&
	coordinator "SELECT count(*) = 0 FROM pg_stat_statements WHERE query LIKE '%FOR NO KEY UPDATE%'")" \
	"the setting is auto, and the coordinator ran none of the path's statements"

# -- the ledger on the shards --------------------------------------------------

for change in "UPDATE enrollment.payments SET amount = amount" \
	"DELETE FROM enrollment.payments WHERE user_id = '$ann'" \
	"TRUNCATE enrollment.payments"; do
	tap "$([ "$(sqlstate_of "$change")" = 23E05 ] && echo t)" \
		"on the coordinator, $change raises 23E05"
done
# shard_refuses_delete PORT: t when DELETE from a ledger shard on that
# worker raises 23E05; the shard's name first
shard_refuses_delete() {
	local shard
	shard=$(coordinator "SELECT shard_name(logicalrelid, shardid) FROM pg_dist_shard JOIN pg_dist_shard_placement USING (shardid)
	                      WHERE logicalrelid = 'enrollment.payments'::regclass AND nodeport = $1 LIMIT 1")
	echo "$shard"
	[ -n "$shard" ] && [ "$(on "$1" "DELETE FROM $shard" 2>&1 | sed -n 's/^ERROR:  //p')" = 23E05 ] && echo t
}
refused=$(shard_refuses_delete "${WORKERS[0]}")
tap "$(tail -n 1 <<<"$refused")" "on a worker, DELETE from the shard $(head -n 1 <<<"$refused") raises 23E05"

tap "$(coordinator "SELECT count(*) = count(DISTINCT payment_id) FROM enrollment.payments")" \
	"payment ids are unique across the nodes"
tap "$(coordinator "SELECT bool_and(p.payment_id % 1024 = g.groupid)
                     FROM enrollment.payments p, pg_dist_node g
                    WHERE p.user_id = '$ann' AND p.course_id = 'math'
                      AND g.nodeport = ${WORKERS[0]}")" \
	"$ann's delegated payments have ids of her worker's group modulo 1024"

# a batch on the coordinator after payments on the worker, whose sequence
# is far ahead: the batch's row takes an id above them
coordinator "SELECT enrollment.enroll('$ann', 'biology', 100)" >/dev/null
push_ids "${WORKERS[0]}"
coordinator "SELECT enrollment.apply_payment('$ann', 'biology', 1)" >/dev/null
coordinator "SELECT * FROM enrollment.apply_payments('[{\"user_id\": \"$ann\", \"course_id\": \"biology\", \"amount\": 2}]')" >/dev/null
coordinator "SELECT enrollment.apply_payment('$ann', 'biology', 3)" >/dev/null
tap "$(coordinator "SELECT string_agg(amount::text || '@' || (payment_id % 1024), ',' ORDER BY payment_id) = '1.00@1,2.00@0,3.00@1'
                     FROM enrollment.history('$ann', 'biology')")" \
	"payments on the worker, then the coordinator (a batch), then the worker again: history() lists them in that order"
tap "$(coordinator "SELECT count(*) = 0 FROM enrollment.verify() WHERE user_id = '$ann'")" \
	"verify() finds that enrollment in agreement with its ledger"

# -- events come from the worker that ran the call ---------------------------

# in the WAL, the default (the nodes run with wal_level = logical)
on "${WORKERS[1]}" "SELECT pg_create_logical_replication_slot('events', 'test_decoding')" >/dev/null
coordinator "SELECT enrollment.apply_payment('$ben', 'chemistry', 1, 'event-1')" >/dev/null
tap "$(on "${WORKERS[1]}" "SELECT count(*) = 1 FROM pg_logical_slot_get_changes('events', NULL, NULL)
                          WHERE data LIKE 'message: transactional: 1 prefix: enrollment, sz: % content:'
                                          || '{\"user_id\": \"$ben\", \"course_id\": \"chemistry\", \"kind\": \"payment\", \"amount\": 1.00,%'")" \
	"a slot on $ben's worker decodes the event of his payment through the coordinator"
on "${WORKERS[1]}" "SELECT pg_drop_replication_slot('events')" >/dev/null
# set_events PORT VALUE: enrollment.events for that node's sessions
set_events() {
	psql -X -q -h 127.0.0.1 -p "$1" -v ON_ERROR_STOP=1 -c "LOAD 'enrollment'" \
		-c "ALTER SYSTEM SET enrollment.events = $2" -c "SELECT pg_reload_conf()" >/dev/null
}
# by NOTIFY, once that worker is set to send it
set_events "${WORKERS[1]}" notify
(psql -X -h 127.0.0.1 -p "${WORKERS[1]}" -c "LISTEN enrollment_events" \
	-c "SELECT pg_sleep(3)" >"$WORK/listen.log" 2>&1) &
listener=$!
sleep 1
coordinator "SELECT enrollment.apply_payment('$ben', 'chemistry', 2, 'event-2')" >/dev/null
wait "$listener"
set_events "${WORKERS[1]}" wal
tap "$(grep -q 'notification "enrollment_events" with payload .*"user_id": "'"$ben"'", "course_id": "chemistry", "kind": "payment", "amount": 2.00' \
	"$WORK/listen.log" && echo t)" \
	"a listener on $ben's worker receives the event of his payment"
grep -q '"amount": 2.00' "$WORK/listen.log" || cat "$WORK/listen.log"

# -- pgbench through the coordinator -----------------------------------------

# test/concurrency.sh on the distributed tables: each of its checks becomes
# one of ours, its other lines comments
while IFS= read -r line; do
	case $line in
	"ok "*) tap t "through the coordinator: ${line#* - }" ;;
	"not ok "*) tap f "through the coordinator: ${line#* - }" ;;
	1..*) ;;
	*) echo "# $line" ;;
	esac
done < <(PGHOST=127.0.0.1 PGPORT=$COORDINATOR CONCURRENCY_DB=postgres CLIENTS=8 PER_CLIENT=100 \
	bash test/concurrency.sh 2>&1 || echo "not ok - test/concurrency.sh failed")

# -- the fault client through the coordinator while workers fail -----------

# terminate_worker_backends PORT: terminate the backends of that worker that
# serve the other nodes' connections, the delegated calls among them;
# prints how many
terminate_worker_backends() {
	on "$1" "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
	          WHERE application_name LIKE 'citus_internal%' AND backend_type = 'client backend'"
}

FAULT_DB=postgres
CONNINFO="host=127.0.0.1 port=$COORDINATOR dbname=$FAULT_DB"
build_client
create_enrollments "$COORDINATOR"
terminated=0
restarted=0
run_client "$CONNINFO" 25
for fault in terminate restart terminate terminate; do
	sleep 4
	case $fault in
	terminate) terminated=$((terminated + $(terminate_worker_backends "${WORKERS[0]}"))) ;;
	restart)
		restart_server "$WORK/node-${WORKERS[1]}"
		restarted=$((restarted + 1))
		;;
	esac
done
wait_client
tap "$([ "$terminated" -gt 0 ] && [ "$restarted" -eq 1 ] && echo t)" \
	"while the client paid through the coordinator, $terminated backends of the first worker were terminated, and the second worker stopped (immediate) and restarted"
for port in "$COORDINATOR" "${WORKERS[@]}"; do check_server_log "$WORK/node-$port"; done
# (Citus warns that the checks' views stay on the coordinator, as they should)
PGOPTIONS="-c client_min_messages=error" check_calls "$COORDINATOR" "$CONNINFO"

# -- a shard move while payments run -----------------------------------------

# pay PREFIX SECONDS: pgbench paying 0.01 with a fresh key into PREFIX-1 to
# PREFIX-40; prints its summary
pay() {
	cat >"$WORK/$1.sql" <<-EOF
	\set uid random(1, 40)
	\set nonce random(1, 1000000000000)
	SELECT enrollment.apply_payment('$1-' || :uid, 'course', 0.01, 'key-' || :client_id || '-' || :nonce);
	EOF
	pgbench -n -M prepared -h 127.0.0.1 -p "$COORDINATOR" -c 4 -j 2 -T "$2" \
		-f "$WORK/$1.sql" postgres 2>&1
}
no_failure() { grep -q 'number of failed transactions: 0 ' "$1" && ! grep -q 'aborted' "$1"; }
processed() { sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1"; }
# nothing_lost PREFIX COUNT DESCRIPTION: the ledger has COUNT payments of
# PREFIX users, their enrollments add up, keys are unique
nothing_lost() {
	tap "$(coordinator "SELECT count(*) = $2 AND count(DISTINCT (user_id, idempotency_key)) = $2
	                      AND count(DISTINCT payment_id) = $2
	                     FROM enrollment.payments WHERE user_id LIKE '$1-%'")" \
		"$3: all $2 payments are in the ledger once, keys and payment ids unique"
	tap "$(coordinator "SELECT sum(amount_paid) = $2 * 0.01 FROM enrollment.enrollments
	                    WHERE user_id LIKE '$1-%'")" \
		"$3: the enrollments' amount_paid adds up to the $2 payments"
	coordinator "SELECT * FROM enrollment.verify() WHERE user_id LIKE '$1-%' LIMIT 5"
}

# while_paying PREFIX SECONDS COMMAND...: COMMAND (output in
# $WORK/PREFIX-run.log, exit status in $status) 3 s into a pgbench run of
# pay PREFIX SECONDS (summary in $WORK/PREFIX.log)
while_paying() {
	local prefix=$1 seconds=$2 bench
	shift 2
	pay "$prefix" "$seconds" >"$WORK/$prefix.log" &
	bench=$!
	sleep 3
	status=0
	"$@" >"$WORK/$prefix-run.log" 2>&1 || status=$?
	wait "$bench" || true
}

# paid_safely PREFIX WHAT: no payment of that run failed, none was lost or
# doubled, and ids kept their order "across WHAT"
paid_safely() {
	local paid
	paid=$(processed "$WORK/$1.log")
	tap "$(no_failure "$WORK/$1.log" && echo t)" \
		"no payment failed during the ${2#* } ($paid paid)"
	nothing_lost "$1" "$paid" "across $2"
	tap "$(in_id_order "$1-%")" \
		"across $2, every enrollment's ids are in the order of its payments"
}

coordinator "SELECT count(enrollment.enroll('mover-' || i, 'course', 1000000))
               FROM generate_series(1, 40) i" >/dev/null
moved=$(user_on "${WORKERS[1]}" mover)
push_ids "${WORKERS[1]}"	# the rows written before the move have the larger ids
shard=$(coordinator "SELECT get_shard_id_for_distribution_column('enrollment.enrollments', '$moved')")
while_paying mover 12 coordinator "SELECT citus_move_shard_placement($shard, '127.0.0.1', ${WORKERS[1]},
                                                                    '127.0.0.1', ${WORKERS[0]})"
tap "$([ "$status" -eq 0 ] && [ "$(worker_of "$moved")" = "${WORKERS[0]}" ] && echo t)" \
	"citus_move_shard_placement() moves the shard of $moved (and its colocated ledger) from the second worker to the first while 4 clients pay"
[ "$status" -eq 0 ] || cat "$WORK/mover-run.log"
paid_safely mover "the move"
tap "$(coordinator "SELECT status = 'partial' FROM enrollment.apply_payment('$moved', 'course', 1, 'after-move')")" \
	"a payment for $moved after the move succeeds on her new worker"

# -- a third worker, and a rebalance onto it while payments run ---------------

start_node "$NEW_WORKER"
coordinator "SELECT citus_add_node('127.0.0.1', $NEW_WORKER)" >/dev/null
tap "$([ "$(on "$NEW_WORKER" "SELECT extversion FROM pg_extension WHERE extname = 'enrollment'")" = "$version" ] && echo t)" \
	"citus_add_node() creates the extension on the new worker"
give_ids
tap "$([ "$status" -eq 0 ] && [ "$(grep -c '|t|DO$' "$WORK/ids.log")" -eq 4 ] &&
	[ "$(ids_set_on "$NEW_WORKER")" = t ] && echo t)" \
	"the recipe's statement, run again, gives the new worker its payment ids"
coordinator "SELECT count(enrollment.enroll('rebalanced-' || i, 'course', 1000000))
               FROM generate_series(1, 40) i" >/dev/null
# two statements: the job the first creates must commit before the wait
rebalance() { coordinator "SELECT citus_rebalance_start()" && coordinator "SELECT citus_rebalance_wait()"; }
while_paying rebalanced 15 rebalance
tap "$([ "$status" -eq 0 ] && [ "$(coordinator "SELECT count(*) FROM pg_dist_shard_placement WHERE nodeport = $NEW_WORKER")" -gt 0 ] && echo t)" \
	"citus_rebalance_start() moves shards onto the new worker while 4 clients pay"
[ "$status" -eq 0 ] || cat "$WORK/rebalanced-run.log"
paid_safely rebalanced "the rebalance"
newcomer=$(user_on "$NEW_WORKER" newcomer)
coordinator "SELECT enrollment.enroll('$newcomer', 'course', 10)" >/dev/null
group=$(coordinator "SELECT groupid FROM pg_dist_node WHERE nodeport = $NEW_WORKER")
tap "$(coordinator "SELECT payment_id % 1024 = $group FROM enrollment.apply_payment('$newcomer', 'course', 1)")" \
	"a payment for $newcomer, on the new worker, gets an id of its group modulo 1024"
refused=$(shard_refuses_delete "$NEW_WORKER")
tap "$(tail -n 1 <<<"$refused")" \
	"on the new worker, DELETE from the shard $(head -n 1 <<<"$refused"), moved there by the rebalance, raises 23E05"
tap "$(coordinator "SELECT count(*) = 0 FROM enrollment.verify()")" \
	"after the move and the rebalance, verify() finds nothing wrong"
coordinator "SELECT * FROM enrollment.verify() LIMIT 5"
tap "$(coordinator "SELECT count(*) = count(DISTINCT payment_id) FROM enrollment.payments")" \
	"after the move and the rebalance, payment ids are unique across the nodes"

# a node whose sequence descends cannot give a row an id above its
# enrollment's last one: 55000, nothing changed; the recipe's statement
# repairs it.  The node is the one that holds ann's shard now: the
# rebalance may have moved it.
on "$(worker_of "$ann")" "SET citus.enable_ddl_propagation = off;
                   ALTER SEQUENCE enrollment.payments_payment_id_seq INCREMENT BY -1024" >/dev/null
before=$(coordinator "SELECT amount_paid FROM enrollment.enrollments WHERE user_id = '$ann' AND course_id = 'biology'")
tap "$([ "$(sqlstate_of "SELECT enrollment.apply_payment('$ann', 'biology', 1)")" = 55000 ] &&
	[ "$(coordinator "SELECT amount_paid FROM enrollment.enrollments WHERE user_id = '$ann' AND course_id = 'biology'")" = "$before" ] &&
	echo t)" "a payment on a worker whose payment_id sequence descends raises 55000 and changes nothing"
give_ids
tap "$(coordinator "SELECT status = 'partial' FROM enrollment.apply_payment('$ann', 'biology', 1)")" \
	"after the recipe's statement runs again, payments there succeed"

# -- ALTER EXTENSION UPDATE from 1.0 on the distributed database --------------

# shape TABLE: on every node, the columns and CHECK constraints of TABLE and
# of each of its shards there; one line when they are all the same
SHAPE="SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attnum)
          || ' | ' || (SELECT string_agg(pg_get_constraintdef(c.oid), ' ' ORDER BY c.conname)
                         FROM pg_constraint c WHERE c.conrelid = '%1\$s'::regclass AND c.contype = 'c')
         FROM pg_attribute a WHERE a.attrelid = '%1\$s'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
shape() {
	coordinator "SELECT DISTINCT result FROM (
	               SELECT result FROM run_command_on_shards('$1', \$s\$$SHAPE\$s\$)
	               UNION ALL SELECT result FROM run_command_on_all_nodes(format(\$s\$$SHAPE\$s\$, '$1'))) r"
}

coordinator "DROP EXTENSION enrollment CASCADE" >/dev/null
coordinator "CREATE EXTENSION enrollment VERSION '1.0'"
recipe recipe.sql
[ "$status" -eq 0 ] && give_ids
tap "$([ "$status" -eq 0 ] && [ "$(delegated)" = "apply_payment enroll pay_remaining_balance" ] && echo t)" \
	"on version 1.0, the recipe distributes the tables and delegates 1.0's three functions"
coordinator "SELECT count(enrollment.enroll('updated-' || i, 'course', 1000000))
               FROM generate_series(1, 40) i" >/dev/null
while_paying updated 12 coordinator "ALTER EXTENSION enrollment UPDATE"
tap "$([ "$status" -eq 0 ] && for port in "$COORDINATOR" "${WORKERS[@]}" "$NEW_WORKER"; do
	[ "$(on "$port" "SELECT extversion FROM pg_extension WHERE extname = 'enrollment'")" = "$version" ] || exit
done && echo t)" "ALTER EXTENSION enrollment UPDATE on the coordinator updates all four nodes to $version while 4 clients pay"
[ "$status" -eq 0 ] || cat "$WORK/updated-run.log"
paid_safely updated "the update"
for table in enrollments payments; do
	tap "$([ "$(shape "enrollment.$table" | wc -l)" -eq 1 ] && echo t)" \
		"after the update, $table has the same columns and CHECK constraints on every node and every shard"
	[ "$(shape "enrollment.$table" | wc -l)" -eq 1 ] || shape "enrollment.$table"
done
tap "$(coordinator "SELECT count(*) > 0 AND bool_and(kind = 'payment') FROM enrollment.payments")" \
	"the ledger's rows written on 1.0 and during the update are payments"
recipe functions.sql
tap "$([ "$status" -eq 0 ] && [ "$(delegated)" = "$DELEGATED_1_1" ] && echo t)" \
	"the recipe's delegation statement, run again after the update, delegates the five new functions too"
first=$(user_on "${WORKERS[0]}" updated)
second=$(user_on "${WORKERS[1]}" updated)
coordinator "SELECT enrollment.refund_payment('$first', 'course', 0.01, 'refund-after-update', 'goodwill');
              SELECT enrollment.change_price('$second', 'course', 2000000);
              SELECT enrollment.cancel_enrollment('$second', 'course', 'changed plans');
              SELECT enrollment.import_enrollment('imported-after-update', 'course', 10, 4)" >/dev/null
tap "$([ "$(coordinator "SELECT string_agg(kind::text, ' ' ORDER BY payment_id) FROM (
                      SELECT kind, payment_id FROM enrollment.history('$second', 'course')
                       ORDER BY payment_id DESC LIMIT 2) h")" = "price_change cancel" ] &&
	[ "$(coordinator "SELECT kind || ' ' || reason FROM enrollment.history('$first', 'course')
	                  ORDER BY payment_id DESC LIMIT 1")" = "refund goodwill" ] &&
	[ "$(coordinator "SELECT status FROM enrollment.enrollments WHERE user_id = '$second'")" = cancelled ] &&
	echo t)" "after the update, refund_payment(), change_price(), cancel_enrollment() and import_enrollment() work on both workers, and history() shows their kinds"
shard=$(coordinator "SELECT get_shard_id_for_distribution_column('enrollment.payments', '$first')")
coordinator "SELECT citus_move_shard_placement($shard, '127.0.0.1', ${WORKERS[0]}, '127.0.0.1', ${WORKERS[1]})" >/dev/null
tap "$([ "$(shape enrollment.payments | wc -l)" -eq 1 ] &&
	[ "$(sqlstate_of "INSERT INTO enrollment.payments (user_id, course_id, amount, amount_paid_after,
	                                                     amount_due_after, status_after, created_at,
	                                                     created_by, kind)
	                  VALUES ('$first', 'course', 1, 1, 1, 'partial', now(), current_user, 'refund')")" = 23514 ] &&
	echo t)" "a shard moved after the update has the new columns and constraints (a refund of +1 raises 23514)"
tap "$(coordinator "SELECT count(*) = 0 FROM enrollment.verify()")" \
	"after the update, verify() finds nothing wrong"
tap_done
