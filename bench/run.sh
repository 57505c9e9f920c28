#!/usr/bin/env bash
# bench/run.sh: the benchmark suite of the enrollment extension.
#
#   bash bench/run.sh            full run (about 45 minutes on 2 cores)
#   bash bench/run.sh quick      the same, short and once (under 3 minutes)
#   bash bench/run.sh server     the server-side cost per call alone (~4 min)
#   bash bench/run.sh scale      per-call cost as the tables grow, and backend
#                                memory after 10^3 and 10^6 calls (~6 min)
#   QUICK=1 bash bench/run.sh scale   a small scale run, for trying it
#
# What it measures, on one throwaway server started here (scripts/lib.sh),
# with the extension built and installed from this tree:
#
# 1. Throughput (full, quick): pgbench -M prepared, one payment of 0.01 per
#    transaction, for each contender on its own tables (bench/setup.sql):
#      naive       the application's SELECT, then UPDATE (lost updates)
#      plpgsql     bench.apply_payment(), the extension's contract in PL/pgSQL
#      sql         one statement: atomic increment + ledger row, no checks
#      enrollment  enrollment.apply_payment() in the default configuration
#                  (enrollment.events = wal): a logical decoding message
#                  per payment, which a consumer reads from a slot
#      off         enrollment.apply_payment(), enrollment.events = off
#      notify      enrollment.apply_payment(), enrollment.events = notify:
#                  a NOTIFY per payment
#      batch       enrollment.apply_payments(), 100 payments per call, in the
#                  default configuration (hot scenario only; skipped if the
#                  extension does not have it)
#    The server runs with wal_level = logical, and a consumer (pg_recvlogical
#    on a pgoutput slot with messages 'true', the way a change-data-capture
#    tool reads the events) streams the events to a file during the whole
#    run; at the end it must have received one event per payment of
#    enrollment and batch.  Every contender pays for the logical WAL level
#    and for the decoding of its WAL on the same two cores.
#    Scenarios: uniform (a random one of N_UNIFORM enrollments per payment)
#    and hot (every payment to one enrollment); 1, 8 and 32 clients (-j 2);
#    synchronous_commit on and off (PGOPTIONS).  Each run lasts DURATION
#    seconds; contenders alternate inside each cell (A B C ..., A B C ...) and
#    the whole grid is repeated REPS times; the tables show the median.
#    A CHECKPOINT before every run (outside the timed part) starts each
#    with a clean buffer pool, so that no run writes out the pages of the
#    run before it; no checkpoint falls inside a run.
#    After every run: for every contender but naive, the enrollments'
#    amount_paid grew by exactly transactions x payments x 0.01, the ledger
#    by as many rows, and amount_paid equals the ledger sum; else a FAIL
#    line.  For naive, the payments lost (paid minus recorded) are counted.
# 2. Server-side cost per call (full, quick, server): N_SERVER calls in one
#    statement on distinct enrollments, no network and no commit per call
#    (SELECT count(f(...)) FROM generate_series(1, N)), for the extension
#    and the PL/pgSQL contender, with and without an idempotency key;
#    pay_remaining_balance() on enrollments made for it before each
#    repetition (and copied to the bench tables, which keeps the tables
#    the same size); and the set-based floor: one UPDATE + ledger INSERT
#    statement over N rows, without and with an idempotency key per row;
#    apply_payment() with enrollment.events = wal and = notify.  Otherwise
#    sections 2 and 3 run with enrollment.events off, as the floor sends no
#    event.
#    SERVER_REPS repetitions, alternating, each measurement after a
#    CHECKPOINT; the median is reported, and each ratio is the median of
#    that ratio within each repetition.
# 3. Scale (scale): the extension's cost per call with 10^3, 10^5 and 10^6
#    enrollments and, at every size, a ledger of 10^7 rows, tables loaded
#    with INSERT ... SELECT and prewarmed; then, in one session, the
#    backend's memory (sum of pg_backend_memory_contexts.total_bytes) after
#    10^3 and after 10^6 calls.
#
# Output: the tables on stdout and in bench/results/RESULTS.md: the
# machine's description, then the latest part of each kind
# (throughput.md, server_side.md, scale.md); the plot
# bench/results/throughput.png; raw data and logs in bench/work/.  Exit
# status 1 if any check failed.
#
# Settings (environment): DURATION, REPS, CLIENTS ("1 8 32"), N_UNIFORM,
# N_SERVER, SERVER_REPS, BUILD=0 to use the installed extension as it is.
source "$(dirname "$0")/../scripts/lib.sh"	# cd's to the repository root

MODE=${1:-full}
[ "${QUICK:-0}" = 1 ] && [ "$MODE" = full ] && MODE=quick
case "$MODE" in
full) : "${DURATION:=5}" "${REPS:=5}" "${N_SERVER:=50000}" "${SERVER_REPS:=9}" ;;
quick) : "${DURATION:=2}" "${REPS:=1}" "${N_SERVER:=20000}" "${SERVER_REPS:=1}" ;;
server) : "${N_SERVER:=50000}" "${SERVER_REPS:=9}" ;;
scale) ;;
*) echo "usage: bash bench/run.sh [full|quick|server|scale]" >&2; exit 2 ;;
esac
: "${CLIENTS:=1 8 32}" "${N_UNIFORM:=10000}"

BENCH=$REPO_ROOT/bench
WORK=$BENCH/work
RESULTS=$BENCH/results
DB=bench
FAILURES=0
START_TIME=$(date +%s)
# no statement runs away; events only where a contender sends them
export PGOPTIONS="-c statement_timeout=20min -c enrollment.events=off"
EVENTS_PUBLICATION=enrollment_events	# the empty publication pgoutput needs
EVENTS_SLOT=bench_events
mkdir -p "$WORK" "$RESULTS"

q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
SO_CHANGED=no
log() {		# progress line; also notes if the installed extension changed
	echo "[$(date +%H:%M:%S)] $*"
	if [ -n "${SO_MD5_START:-}" ] && [ "$(so_md5)" != "$SO_MD5_START" ] &&
		[ "$SO_CHANGED" = no ]; then
		SO_CHANGED=yes
		echo "WARNING: the installed enrollment.so changed during the run"
	fi
}
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
so_md5() { md5sum "$($PG_CONFIG --pkglibdir)/enrollment.so" | cut -c1-12; }

# The server: no checkpoint and no JIT compilation inside a measurement,
# wal_level logical for the events' consumer; the rest as scripts/lib.sh
# sets it (fsync on, shared_buffers 256MB).
setup_server() {
	ensure_packages gnuplot-nox
	if [ "${BUILD:-1}" = 1 ]; then
		build_and_install || {
			echo "the build failed; BUILD=0 bash bench/run.sh uses the installed extension" >&2
			exit 1
		}
	fi
	SO_MD5_START=$(so_md5)
	# what was built, described now: the tree may change during the run
	BUILT_FROM="commit $(git rev-parse --short HEAD)"
	local dirty
	dirty=$(git status --porcelain -- src Makefile enrollment.control | wc -l)
	[ "$dirty" -gt 0 ] && BUILT_FROM="$BUILT_FROM plus $dirty uncommitted changed files in src/"
	start_cluster "jit = off" "max_wal_size = 16GB" "checkpoint_timeout = 1h" \
		"wal_level = logical" "$@"
	createdb "$DB"
	PG_VERSION_STRING=$(q -c "SELECT version()")
}

# A markdown section describing the run, for the top of each results part.
run_description() {
	echo "Run: \`$MODE\` on $(date -u '+%Y-%m-%d %H:%M UTC'), took $(($(date +%s) - START_TIME)) s."
	if [ "${BUILD:-1}" = 1 ]; then
		echo "Extension built from $BUILT_FROM (enrollment.so md5 $SO_MD5_START)."
	else
		echo "Extension: the installed build, not rebuilt (BUILD=0; enrollment.so md5 $SO_MD5_START)."
	fi
	if [ "$SO_CHANGED" = yes ] || [ "$(so_md5)" != "$SO_MD5_START" ]; then
		echo
		echo "**Warning: the installed enrollment.so changed during the run (now $(so_md5)); connections opened after that loaded the new build, so these numbers mix two builds.**"
	fi
	echo "Server: $PG_VERSION_STRING; fsync on, shared_buffers $(q -c 'SHOW shared_buffers') (huge pages: $(q -c 'SHOW huge_pages')), jit off, max_wal_size 16GB, checkpoint_timeout 1h, wal_level $(q -c 'SHOW wal_level'), autovacuum on."
	echo
}

########################################################################
# 1. Throughput
########################################################################

RUN_NO=0
# the contenders of both scenarios; hot adds batch
CONTENDERS="naive plpgsql sql enrollment off notify"

# The contender's enrollments and ledger, for the checks.
tables_of() {	# tables_of CONTENDER -> "ENROLLMENTS LEDGER"
	case "$1" in
	naive) echo "bench.naive_enrollments -" ;;
	plpgsql) echo "bench.pl_enrollments bench.pl_payments" ;;
	sql) echo "bench.sql_enrollments bench.sql_payments" ;;
	enrollment | off | notify | batch) echo "enrollment.enrollments enrollment.payments" ;;
	esac
}

# "PAID_CENTS LEDGER_ROWS LEDGER_CENTS" of a contender's enrollments in one
# course (the scenario), summed over the whole tables.
balances() {	# balances CONTENDER COURSE
	local enrollments ledger
	read -r enrollments ledger < <(tables_of "$1")
	if [ "$ledger" = - ]; then
		q -F ' ' -c "SELECT (sum(amount_paid) * 100)::bigint, 0, 0
		               FROM $enrollments WHERE course_id = '$2'"
	else
		q -F ' ' -c "SELECT (SELECT (sum(amount_paid) * 100)::bigint FROM $enrollments
		                      WHERE course_id = '$2'),
		                    count(*), coalesce((sum(amount) * 100)::bigint, 0)
		               FROM $ledger WHERE course_id = '$2'"
	fi
}

# One pgbench run, checked; appends a line to $WORK/throughput.tsv
# (rep 0 is a warm-up, left out of the results).
run_one() {	# run_one REP SYNC SCENARIO CLIENTS CONTENDER
	local rep=$1 sync=$2 scenario=$3 clients=$4 contender=$5
	local n course per_tx=1 jobs=2 out rc=0 tx tps payments lost=0 status=ok
	local script=$contender events=
	local paid0 rows0 ledger0 paid1 rows1 ledger1
	RUN_NO=$((RUN_NO + 1))
	if [ "$scenario" = uniform ]; then n=$N_UNIFORM; course=uniform; else n=1; course=hot; fi
	[ "$contender" = batch ] && per_tx=100
	# enrollment and batch run in the default configuration
	case "$contender" in off | notify)
		script=enrollment events="-c enrollment.events=$contender" ;;
	esac
	[ "$clients" -lt 2 ] && jobs=1
	out=$WORK/pgbench/$RUN_NO-$scenario-$sync-c$clients-$contender.log

	# every run starts with a clean buffer pool: without this, a run must
	# write out the dirty pages that the runs before it left behind; and
	# with the consumer idle, its decoding of the run before done
	consumer_catch_up
	q -c "CHECKPOINT"
	read -r paid0 rows0 ledger0 < <(balances "$contender" "$course")
	PGOPTIONS="-c synchronous_commit=$sync -c statement_timeout=60s $events" \
		timeout $((DURATION + 120)) \
		pgbench -n -M prepared -c "$clients" -j "$jobs" -T "$DURATION" \
		-D n="$n" -D course="$course" -D run="$RUN_NO" -D seq=0 \
		-f "$BENCH/pgbench/$script.sql" "$DB" >"$out" 2>&1 || rc=$?
	read -r paid1 rows1 ledger1 < <(balances "$contender" "$course")

	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
	payments=$((${tx:-0} * per_tx))
	if [ "$rc" -ne 0 ] || [ -z "$tx" ] || [ -z "$tps" ]; then
		fail "$contender $scenario c=$clients sync=$sync: pgbench failed (exit $rc), see $out"
		tail -5 "$out"
		status=FAIL
	elif [ "$contender" = naive ]; then
		lost=$((payments - (paid1 - paid0)))
	elif [ $((paid1 - paid0)) -ne "$payments" ] ||
		[ $((rows1 - rows0)) -ne "$payments" ] || [ "$paid1" -ne "$ledger1" ]; then
		fail "$contender $scenario c=$clients sync=$sync: $payments payments of 0.01," \
			"amount_paid grew by $((paid1 - paid0)) cents, the ledger by" \
			"$((rows1 - rows0)) rows; amount_paid $paid1 cents, ledger sum $ledger1 cents"
		status=FAIL
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$sync" "$scenario" \
		"$clients" "$contender" "${tx:-0}" "${tps:-0}" "$payments" "$lost" "$status" \
		>>"$WORK/throughput.tsv"
	[ "$rep" -gt 0 ] && printf '  %-10s %-8s sync=%-3s c=%-3s %10.0f payments/s%s\n' \
		"$contender" "$scenario" "$sync" "$clients" \
		"$(awk -v t="${tps:-0}" -v p="$per_tx" 'BEGIN { print t * p }')" \
		"$([ "$contender" = naive ] && echo ", $lost of $payments lost")"
	return 0
}

# The events' consumer: pg_recvlogical on a pgoutput slot, as a
# change-data-capture tool reads the stream, writing what it receives to
# $WORK/events.bin.
start_consumer() {
	q -c "CREATE PUBLICATION $EVENTS_PUBLICATION" \
	  -c "SELECT pg_create_logical_replication_slot('$EVENTS_SLOT', 'pgoutput')" >/dev/null
	PGOPTIONS= pg_recvlogical -d "$DB" --slot "$EVENTS_SLOT" --start --no-loop \
		-o proto_version=1 -o publication_names="$EVENTS_PUBLICATION" \
		-o messages=true -F 1 -s 1 -f "$WORK/events.bin" 2>"$WORK/consumer.log" &
	CONSUMER_PID=$!
}

# Wait until the consumer's walsender has decoded all the WAL written so far.
consumer_catch_up() {
	[ -n "${CONSUMER_PID:-}" ] || return 0
	local target i
	target=$(q -c "SELECT pg_current_wal_insert_lsn()")
	for i in $(seq 1500); do
		[ "$(q -c "SELECT coalesce(bool_or(sent_lsn >= '$target'), false)
		             FROM pg_stat_replication WHERE application_name = 'pg_recvlogical'")" = t ] &&
			return 0
		sleep 0.2
	done
	fail "the events' consumer is not streaming, or more than 5 minutes behind (see $WORK/consumer.log)"
}

# Stop the consumer once it has written everything, and check that it
# received one event per payment of the contenders that sent them.
stop_consumer() {
	local sent received i
	q -c "SELECT pg_logical_emit_message(true, 'enrollment', '{\"bench\": \"done\"}')" >/dev/null
	for i in $(seq 600); do
		tail -c 1000 "$WORK/events.bin" | grep -aq '"bench": "done"' && break
		sleep 0.2
	done
	kill "$CONSUMER_PID" 2>/dev/null || true
	wait "$CONSUMER_PID" 2>/dev/null || true
	CONSUMER_PID=
	q -c "SELECT pg_drop_replication_slot('$EVENTS_SLOT')" >/dev/null
	sent=$(awk -F '\t' '$5 == "enrollment" || $5 == "batch" { n += $8 } END { print n + 0 }' \
		"$WORK/throughput.tsv")
	received=$(grep -ao '"payment_id"' "$WORK/events.bin" | wc -l)
	rm -f "$WORK/events.bin"
	if [ "$received" -eq "$sent" ]; then
		log "the events' consumer received $received events, one per payment of enrollment and batch"
	else
		fail "the events' consumer received $received events for $sent payments of enrollment and batch"
	fi
}

throughput() {
	local contenders_hot=$CONTENDERS
	HAVE_BATCH=$(q -c "SELECT to_regprocedure('enrollment.apply_payments(jsonb)') IS NOT NULL")
	if [ "$HAVE_BATCH" = t ]; then
		contenders_hot="$contenders_hot batch"
	else
		echo "note: enrollment.apply_payments(jsonb) is not in the installed extension; batch skipped"
	fi
	rm -rf "$WORK/pgbench" "$WORK/throughput.tsv"
	mkdir -p "$WORK/pgbench"
	start_consumer

	log "warm-up: every contender once, 8 clients, 1 s"
	local c rep sync scenario clients contenders
	for c in $CONTENDERS; do DURATION=1 run_one 0 off uniform 8 "$c"; done
	for c in $contenders_hot; do DURATION=1 run_one 0 off hot 8 "$c"; done

	for rep in $(seq 1 "$REPS"); do
		for sync in on off; do
			for scenario in uniform hot; do
				contenders=$CONTENDERS
				[ "$scenario" = hot ] && contenders=$contenders_hot
				for clients in $CLIENTS; do
					log "repetition $rep/$REPS: $scenario, synchronous_commit=$sync, $clients clients"
					for c in $contenders; do
						run_one "$rep" "$sync" "$scenario" "$clients" "$c"
					done
				done
			done
		done
	done
	stop_consumer
}

########################################################################
# 2. Server-side cost per call
########################################################################

# Time one statement inside a transaction: microseconds per call.
time_statement() {	# time_statement CALLS SQL [SETTING=VALUE]
	q <<-EOF
		BEGIN;
		${3:+SET LOCAL $3;}
		SELECT clock_timestamp() AS t0 \gset
		$2 \g /dev/null
		SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1e6 / $1, 2);
		COMMIT;
	EOF
}

server_side() {
	local n=$N_SERVER rep what sql us setting key
	rm -f "$WORK/server_side.tsv"
	for rep in $(seq 1 "$SERVER_REPS"); do
		log "server-side cost per call, repetition $rep/$SERVER_REPS ($n calls each)"
		# enrollments for pay_remaining_balance(), in every contender's table
		q -c "SELECT count(enrollment.enroll('s' || i, 'rem$rep', 1000000000))
		        FROM generate_series(1, $n) i" \
		  -c "INSERT INTO bench.pl_enrollments SELECT * FROM enrollment.enrollments
		       WHERE course_id = 'rem$rep'" \
		  -c "INSERT INTO bench.sql_enrollments SELECT * FROM enrollment.enrollments
		       WHERE course_id = 'rem$rep'" >/dev/null
		for what in enrollment plpgsql enrollment_key plpgsql_key enrollment_remaining \
			enrollment_sql enrollment_wal enrollment_notify floor floor_key; do
			setting=
			case "$what" in
			enrollment) sql="SELECT count(enrollment.apply_payment('s' || i, 'srv', 0.01))
			                   FROM generate_series(1, $n) i" ;;
			enrollment_sql) sql="SELECT count(enrollment.apply_payment('s' || i, 'srv', 0.01))
			                       FROM generate_series(1, $n) i"
			                setting="enrollment.table_access = sql" ;;
			enrollment_wal | enrollment_notify)
			                sql="SELECT count(enrollment.apply_payment('s' || i, 'srv', 0.01))
			                       FROM generate_series(1, $n) i"
			                setting="enrollment.events = ${what#enrollment_}" ;;
			enrollment_remaining) sql="SELECT count(enrollment.pay_remaining_balance('s' || i,
			                                         'rem$rep'))
			                             FROM generate_series(1, $n) i" ;;
			plpgsql) sql="SELECT count(bench.apply_payment('s' || i, 'srv', 0.01))
			                FROM generate_series(1, $n) i" ;;
			enrollment_key) sql="SELECT count(enrollment.apply_payment('s' || i, 'srv', 0.01,
			                                   'srv-$rep-' || i))
			                       FROM generate_series(1, $n) i" ;;
			plpgsql_key) sql="SELECT count(bench.apply_payment('s' || i, 'srv', 0.01,
			                                'srv-$rep-' || i))
			                    FROM generate_series(1, $n) i" ;;
			floor | floor_key)
			    # the key, if any: one per enrollment and repetition
			    key=NULL
			    [ "$what" = floor_key ] && key="'srv-floor-$rep-' || user_id"
			    sql="WITH u AS (
			              UPDATE bench.sql_enrollments
			                 SET amount_paid = amount_paid + 0.01,
			                     amount_due = amount_due - 0.01,
			                     status = 'partial', updated_at = clock_timestamp()
			               WHERE course_id = 'srv'
			              RETURNING user_id, course_id, amount_paid, amount_due,
			                        status, updated_at)
			            INSERT INTO bench.sql_payments (user_id, course_id, amount, kind,
			                idempotency_key, amount_paid_after, amount_due_after,
			                status_after, created_at, created_by)
			            SELECT user_id, course_id, 0.01, 'payment', $key, amount_paid,
			                   amount_due, status, updated_at, session_user FROM u" ;;
			esac
			q -c "CHECKPOINT"	# as before every throughput run
			us=$(time_statement "$n" "$sql" "$setting")
			printf '%s\t%s\t%s\n' "$rep" "$what" "$us" >>"$WORK/server_side.tsv"
			printf '  %-15s %8s us per call\n' "$what" "$us"
		done
	done
	# every srv enrollment was paid 0.01 per call, and its ledger agrees
	srv_check() {	# srv_check LABEL ENROLLMENTS PAYMENTS CALLS_PER_REP
		echo "SELECT '$1' FROM $2 e
		      LEFT JOIN (SELECT user_id, sum(amount) AS s FROM $3
		                  WHERE course_id = 'srv' GROUP BY 1) l USING (user_id)
		     WHERE course_id = 'srv'
		       AND NOT (amount_paid = 0.01 * $4 * $SERVER_REPS AND l.s = amount_paid)"
	}
	local bad
	bad=$(q -c "SELECT string_agg(t, ', ') FROM (
	    $(srv_check enrollment enrollment.enrollments enrollment.payments 5)
	    UNION
	    $(srv_check plpgsql bench.pl_enrollments bench.pl_payments 2)
	    UNION
	    $(srv_check floor bench.sql_enrollments bench.sql_payments 2)) x (t)")
	[ -n "$bad" ] && fail "server-side: amount_paid or the ledger is wrong for: $bad"
	# pay_remaining_balance() paid each of its enrollments in full, once
	bad=$(q -c "SELECT count(*) FROM enrollment.enrollments e
	              LEFT JOIN (SELECT user_id, course_id, sum(amount) AS s, count(*) AS n
	                           FROM enrollment.payments WHERE course_id LIKE 'rem%'
	                          GROUP BY 1, 2) l USING (user_id, course_id)
	             WHERE course_id LIKE 'rem%'
	               AND NOT (amount_paid = price AND status = 'paid' AND l.s = price AND l.n = 1)")
	[ "$bad" = 0 ] || fail "server-side: $bad enrollments not paid in full by pay_remaining_balance()"
	return 0
}

# Every enrollment of every contender but naive: amount_paid equals the
# sum of its ledger (the monitoring query of docs/operations.md), at the end.
final_ledger_check() {
	local pair enrollments ledger bad
	for pair in "enrollment.enrollments enrollment.payments" \
		"bench.pl_enrollments bench.pl_payments" "bench.sql_enrollments bench.sql_payments"; do
		read -r enrollments ledger <<<"$pair"
		bad=$(q -c "SELECT count(*) FROM $enrollments e
		              LEFT JOIN (SELECT user_id, course_id, sum(amount) AS total
		                           FROM $ledger GROUP BY 1, 2) l USING (user_id, course_id)
		             WHERE e.amount_paid <> coalesce(l.total, 0)")
		[ "$bad" = 0 ] || fail "$bad rows of $enrollments disagree with $ledger"
	done
	return 0
}

# The markdown of the server-side cost: bench/report_server.sql.
server_report() {
	q -c "CREATE TABLE server_side (rep int, what text, us numeric)"
	q -c "\\copy server_side FROM '$WORK/server_side.tsv'"
	{
		echo "## Server-side cost per call"
		echo
		run_description
		q -v n_server="$N_SERVER" -v server_reps="$SERVER_REPS" \
			-f "$BENCH/report_server.sql"
	} >"$RESULTS/server_side.md"
}

# The markdown and the plot of throughput: bench/report.sql.
throughput_report() {
	q -c "CREATE TABLE throughput (rep int, sync text, scenario text,
	        clients int, contender text, tx bigint, tps numeric, payments bigint,
	        lost bigint, status text)"
	q -c "\\copy throughput FROM '$WORK/throughput.tsv'"
	{
		echo "## Throughput"
		echo
		run_description
		q -v duration="$DURATION" -v reps="$REPS" -v n_uniform="$N_UNIFORM" \
			-v have_batch="$HAVE_BATCH" -f "$BENCH/report.sql"
	} >"$RESULTS/throughput.md"
	# plot data: median payments/s at synchronous_commit=on
	local scenario
	for scenario in uniform hot; do
		q -F ' ' -c "SELECT clients,
		        $(for c in $CONTENDERS batch; do
			echo "coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY tps)
			       FILTER (WHERE contender = '$c') * CASE WHEN '$c' = 'batch' THEN 100 ELSE 1 END)::text, 'NaN'),"
		done) 0
		       FROM throughput WHERE rep > 0 AND sync = 'on' AND scenario = '$scenario'
		      GROUP BY clients ORDER BY clients" >"$WORK/plot_$scenario.dat"
	done
	gnuplot -e "workdir='$WORK'; out='$RESULTS/throughput.png'" "$BENCH/plot.gp"
}

########################################################################
# 3. Scale
########################################################################

SCALE_CALLS=50000	# calls per measurement, in statements of 1000
SCALE_STRIDE=7919	# call j pays enrollment (j * 7919) mod E + 1: spread out
SCALE_NEXT_J=0		# calls so far, so that every call has its own key

# The statement of 1000 payments j = FROM .. FROM+999 on E enrollments:
# no key, a new key per call, or the set-based floor (one UPDATE + ledger
# INSERT statement for the 1000 rows, on the same tables).
scale_statement() {	# scale_statement VARIANT(no|yes|floor) E FROM
	local row="'u' || (j * $SCALE_STRIDE) % $2 + 1" span="generate_series($3::bigint, $(($3 + 999))) j"
	case "$1" in
	no) echo "SELECT count(enrollment.apply_payment($row, 'scale', 0.01)) FROM $span" ;;
	yes) echo "SELECT count(enrollment.apply_payment($row, 'scale', 0.01, 'scale-' || j)) FROM $span" ;;
	floor) echo "WITH u AS (
	  UPDATE enrollment.enrollments e
	     SET amount_paid = amount_paid + 0.01, amount_due = amount_due - 0.01,
	         status = 'partial', updated_at = clock_timestamp()
	    FROM $span
	   WHERE e.user_id = $row AND e.course_id = 'scale'
	  RETURNING e.user_id, e.course_id, e.amount_paid, e.amount_due, e.status, e.updated_at)
	INSERT INTO enrollment.payments (user_id, course_id, amount, kind,
	    amount_paid_after, amount_due_after, status_after, created_at, created_by)
	SELECT user_id, course_id, 0.01, 'payment', amount_paid, amount_due, status,
	       updated_at, session_user FROM u" ;;
	esac
}

# Time SCALE_CALLS payments on E enrollments, 1000 per statement, one
# transaction per statement; sets SCALE_US (microseconds per payment) and
# SCALE_WAL (WAL bytes per payment).  Not in a subshell: SCALE_NEXT_J must
# advance.
scale_per_call() {	# scale_per_call E VARIANT
	local chunk
	{
		echo "SET synchronous_commit = off;"
		# the floor looks its rows up by key, as the calls do, at every size
		[ "$2" = floor ] && echo "SET enable_hashjoin = off; SET enable_mergejoin = off;"
		echo "SELECT clock_timestamp() AS t0, pg_current_wal_insert_lsn() AS l0 \\gset"
		for chunk in $(seq 0 $((SCALE_CALLS / 1000 - 1))); do
			echo "$(scale_statement "$2" "$1" $((SCALE_NEXT_J + chunk * 1000))) \\g /dev/null"
		done
		echo "SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1e6 / $SCALE_CALLS, 2),"
		echo "       round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'l0') / $SCALE_CALLS);"
	} >"$WORK/scale_call.sql"
	SCALE_NEXT_J=$((SCALE_NEXT_J + SCALE_CALLS))
	read -r SCALE_US SCALE_WAL < <(q -F ' ' -f "$WORK/scale_call.sql")
	[ -n "$SCALE_US" ] || { echo "FAIL: scale measurement failed" >&2; exit 1; }
}

# New tables with E enrollments ('u1'..'uE', course 'scale') and
# SCALE_LEDGER ledger rows of 0.01 spread evenly over them, consistent with
# the amounts, about 10^6 ledger rows per statement.  The load skips the
# ledger's foreign-key trigger (session_replication_role = replica): the
# rows are consistent by construction, and checking 10^7 of them one by one
# would take longer than the measurements.
scale_fill() {	# scale_fill E
	local e=$1 per=$((SCALE_LEDGER / $1)) step lo hi
	step=$((1000000 / per))
	[ "$step" -ge 1 ] || step=1
	q -c "DROP EXTENSION IF EXISTS enrollment" -c "CREATE EXTENSION enrollment"
	for lo in $(seq 1 "$step" "$e"); do
		hi=$((lo + step - 1))
		[ "$hi" -gt "$e" ] && hi=$e
		q <<-EOF
			SET session_replication_role = replica;
			INSERT INTO enrollment.enrollments (user_id, course_id, currency, price,
			    amount_paid, amount_due, status, created_at, updated_at)
			SELECT 'u' || i, 'scale', 'USD', 1000000000.00, $per * 0.01,
			       1000000000.00 - $per * 0.01, 'partial', now(), now()
			  FROM generate_series($lo, $hi) i;
			INSERT INTO enrollment.payments (user_id, course_id, amount, kind,
			    idempotency_key, amount_paid_after, amount_due_after, status_after,
			    created_at, created_by)
			SELECT 'u' || i, 'scale', 0.01, 'payment', 'fill-' || k, k * 0.01,
			       1000000000.00 - k * 0.01, 'partial', now(), session_user
			  FROM generate_series($lo, $hi) i, generate_series(1, $per) k;
		EOF
	done
	q -c "VACUUM ANALYZE enrollment.enrollments, enrollment.payments"
	q -c "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c
	        JOIN pg_namespace n ON n.oid = c.relnamespace
	       WHERE n.nspname = 'enrollment' AND c.relkind IN ('r', 'i')" >/dev/null
}

# Backend memory in one session after 1000 calls and after MEM_CALLS calls
# (in statements of 10,000); sets MEM_1 and MEM_2 (bytes).
scale_memory() {	# scale_memory E
	local e=$1 lo call="enrollment.apply_payment('u' || (j * $SCALE_STRIDE) % $1 + 1, 'scale', 0.01, 'mem-' || j)"
	{
		echo "SET synchronous_commit = off;"
		echo "SELECT count($call) FROM generate_series(1::bigint, 1000) j \\g /dev/null"
		echo "\\o $WORK/memory_1.txt"
		echo "SELECT name, ident, total_bytes FROM pg_backend_memory_contexts ORDER BY 1, 2, 3;"
		echo "\\o"
		echo "SELECT sum(total_bytes) FROM pg_backend_memory_contexts;"
		for lo in $(seq 1001 10000 "$MEM_CALLS"); do
			echo "SELECT count($call)"
			echo "  FROM generate_series($lo::bigint, least($((lo + 9999)), $MEM_CALLS)) j \\g /dev/null"
		done
		echo "\\o $WORK/memory_2.txt"
		echo "SELECT name, ident, total_bytes FROM pg_backend_memory_contexts ORDER BY 1, 2, 3;"
		echo "\\o"
		echo "SELECT sum(total_bytes) FROM pg_backend_memory_contexts;"
	} >"$WORK/memory.sql"
	read -r MEM_1 MEM_2 <<<"$(q -f "$WORK/memory.sql" | tr '\n' ' ')"
	diff "$WORK/memory_1.txt" "$WORK/memory_2.txt" >"$WORK/memory.diff" || true
}

scale() {
	local sizes="1000 100000 1000000" e rep variant
	MEM_CALLS=1000000 SCALE_LEDGER=10000000
	if [ "${QUICK:-0}" = 1 ]; then
		sizes="1000 10000 100000" MEM_CALLS=100000 SCALE_CALLS=10000 SCALE_LEDGER=1000000
	fi
	: "${SCALE_REPS:=3}"
	q -c "CREATE EXTENSION pg_prewarm"
	rm -f "$WORK/scale.tsv"
	for e in $sizes; do
		log "scale: new tables with $e enrollments and $SCALE_LEDGER ledger rows"
		scale_fill "$e"
		for rep in $(seq 1 "$SCALE_REPS"); do
			for variant in no yes floor; do
				scale_per_call "$e" "$variant"
				printf '%s\t%s\t%s\t%s\t%s\n' "$e" "$rep" "$variant" "$SCALE_US" "$SCALE_WAL" \
					>>"$WORK/scale.tsv"
				printf '  %8d enrollments, %-5s %8s us per payment, %6s WAL bytes per payment\n' \
					"$e" "$variant" "$SCALE_US" "$SCALE_WAL"
			done
		done
	done

	log "scale: backend memory after 1000 and after $MEM_CALLS calls in one session"
	scale_memory "$e"
	echo "  backend memory: $MEM_1 bytes after 1000 calls, $MEM_2 bytes after $MEM_CALLS calls"
	# a leak grows; a context rebuilt after an invalidation may come out smaller
	[ "$MEM_2" -le "$MEM_1" ] ||
		fail "backend memory grew by $((MEM_2 - MEM_1)) bytes between 1000 and $MEM_CALLS calls"

	log "scale: checking the ledger against the enrollments"
	local keyed bad
	keyed=$(q -c "SELECT count(*) FROM enrollment.payments
	                WHERE idempotency_key LIKE 'scale-%'")
	[ "$keyed" -eq $((SCALE_REPS * SCALE_CALLS)) ] ||
		fail "scale: $keyed keyed payments in the largest ledger, expected $((SCALE_REPS * SCALE_CALLS))"
	bad=$(q -c "SELECT count(*) FROM enrollment.enrollments e
	              LEFT JOIN (SELECT user_id, course_id, sum(amount) AS total
	                           FROM enrollment.payments GROUP BY 1, 2) l USING (user_id, course_id)
	             WHERE e.amount_paid <> coalesce(l.total, 0)")
	[ "$bad" = 0 ] || fail "scale: $bad enrollments disagree with their ledger"

	q -c "CREATE TABLE scale (enrollments bigint, rep int, variant text, us numeric, wal numeric)"
	q -c "\\copy scale FROM '$WORK/scale.tsv'"
	{
		echo "## Scale"
		echo
		run_description
		echo "The extension's cost per payment as the enrollments grow: new tables for"
		echo "each size, enrollments 'u1'..'uE' and a ledger of $(q -c "SELECT to_char($SCALE_LEDGER, 'FM99,999,999')") rows spread over them,"
		echo "loaded with INSERT ... SELECT, then VACUUM ANALYZE and"
		echo "pg_prewarm (shared_buffers 4GB, on 2 MB huge pages when the script can reserve them; no checkpoint after the load, so that no"
		echo "full-page image is written). $SCALE_CALLS payments per measurement, 1000 per"
		echo "statement on distinct enrollments spread over the key space, one transaction"
		echo "per statement (synchronous_commit off); median of $SCALE_REPS, the variants"
		echo "alternating: apply_payment() without and with a new idempotency key, and the"
		echo "set-based floor (one UPDATE + ledger INSERT statement per 1000 rows, same tables,"
		echo "rows found by index, nested loop)."
		echo "In parentheses: ÷ the smallest size. WAL: bytes per payment, with key."
		echo
		echo "| enrollments | ledger rows | µs/payment, no key | µs/payment, with key | µs/row, floor | with key ÷ floor | WAL |"
		echo "|--:|--:|--:|--:|--:|--:|--:|"
		q -v ledger="$SCALE_LEDGER" <<-'EOF'
			WITH m AS (
			  SELECT enrollments,
			         percentile_cont(0.5) WITHIN GROUP (ORDER BY us) FILTER (WHERE variant = 'no') AS nokey,
			         percentile_cont(0.5) WITHIN GROUP (ORDER BY us) FILTER (WHERE variant = 'yes') AS withkey,
			         percentile_cont(0.5) WITHIN GROUP (ORDER BY us) FILTER (WHERE variant = 'floor') AS floor,
			         percentile_cont(0.5) WITHIN GROUP (ORDER BY wal) FILTER (WHERE variant = 'yes') AS wal
			    FROM scale GROUP BY 1)
			SELECT format('| %s | %s | %s (%s×) | %s (%s×) | %s (%s×) | %s | %s |',
			              to_char(enrollments, 'FM9,999,999'),
			              to_char(:ledger::bigint, 'FM99,999,999'),
			              round(nokey::numeric, 1), round((nokey / first_value(nokey) OVER w)::numeric, 2),
			              round(withkey::numeric, 1), round((withkey / first_value(withkey) OVER w)::numeric, 2),
			              round(floor::numeric, 1), round((floor / first_value(floor) OVER w)::numeric, 2),
			              round((withkey / floor)::numeric, 2), round(wal::numeric))
			  FROM m WINDOW w AS (ORDER BY enrollments) ORDER BY enrollments;
		EOF
		echo
		echo "Target: largest ÷ smallest < 1.3 (last row, in parentheses)."
		echo
		echo "Backend memory in one session (sum of \`pg_backend_memory_contexts.total_bytes\`),"
		echo "apply_payment() with a new key per call, in statements of 10,000, on the largest tables:"
		echo
		echo "| after 1,000 calls | after $(q -c "SELECT to_char($MEM_CALLS, 'FM9,999,999')") calls | difference |"
		echo "|--:|--:|--:|"
		echo "| $MEM_1 | $MEM_2 | $((MEM_2 - MEM_1)) |"
		if [ -s "$WORK/memory.diff" ]; then
			echo
			echo "Memory contexts that changed (name|ident|total_bytes; < after 1,000 calls, > after; a"
			echo "context rebuilt after an invalidation, as autovacuum's ANALYZE sends, may change size):"
			echo
			echo '```'
			head -40 "$WORK/memory.diff"
			echo '```'
		fi
		echo
	} >"$RESULTS/scale.md"
}

########################################################################
# The results file: the machine, then the latest part of each mode.
########################################################################

write_results() {
	{
		echo "# enrollment benchmarks"
		echo
		echo "Written by \`bash bench/run.sh\` (see its header for what is measured and how)."
		echo "Numbers are ratios within one run on a shared 2-core machine: compare"
		echo "columns of one table, not runs on different days."
		echo
		echo "## Machine"
		echo
		echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), \`nproc\` = $(nproc)"
		echo "- Memory (\`free -h\`):"
		echo
		echo '```'
		free -h
		echo '```'
		echo
		echo "- PostgreSQL: $PG_VERSION_STRING"
		echo "- Written: $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo
		[ -f "$RESULTS/throughput.md" ] && cat "$RESULTS/throughput.md"
		[ -f "$RESULTS/server_side.md" ] && cat "$RESULTS/server_side.md"
		[ -f "$RESULTS/scale.md" ] && cat "$RESULTS/scale.md"
		true
	} >"$RESULTS/RESULTS.md"
}

########################################################################

# Reserve 2 MB huge pages for shared_buffers of 4GB, as a DBA would for a
# large buffer pool: with 4 kB pages, random access over gigabytes pays a
# TLB miss at nearly every page.  Needs root; sets HUGE_PAGES to on, or to
# off when they cannot be reserved (the results say which).
# restore_huge_pages gives the kernel its setting back.
HUGE_PAGES_FILE=/proc/sys/vm/nr_hugepages
reserve_huge_pages() {
	local want=2300
	HUGE_PAGES_BEFORE=$(cat "$HUGE_PAGES_FILE")
	HUGE_PAGES=off
	if [ "$(id -u)" -eq 0 ] && echo "$want" >"$HUGE_PAGES_FILE" 2>/dev/null; then
		[ "$(cat "$HUGE_PAGES_FILE")" -ge "$want" ] && HUGE_PAGES=on
		[ "$HUGE_PAGES" = on ] || restore_huge_pages
	fi
}
restore_huge_pages() {
	echo "$HUGE_PAGES_BEFORE" >"$HUGE_PAGES_FILE" 2>/dev/null || true
}

if [ "$MODE" = scale ]; then
	reserve_huge_pages
	setup_server "shared_buffers = 4GB" "huge_pages = $HUGE_PAGES"
	trap 'stop_cluster; restore_huge_pages' EXIT
	scale
	echo
	cat "$RESULTS/scale.md"
else
	setup_server
	log "setting up: $N_UNIFORM uniform + 1 hot + $N_SERVER server-side enrollments per contender"
	q -v n_uniform="$N_UNIFORM" -v n_server="$N_SERVER" -f "$BENCH/setup.sql" >/dev/null
	[ "$MODE" = server ] || throughput
	server_side
	final_ledger_check
	[ "$MODE" = server ] || throughput_report
	server_report
	echo
	[ "$MODE" = server ] || cat "$RESULTS/throughput.md"
	cat "$RESULTS/server_side.md"
fi
if grep -qE 'terminated by signal|PANIC' "$CLUSTER_DIR/server.log"; then
	fail "the server log shows a crash:"
	grep -B2 -A5 -E 'terminated by signal|PANIC' "$CLUSTER_DIR/server.log" | head -40
fi
write_results
log "done in $(($(date +%s) - START_TIME)) s: $RESULTS/RESULTS.md, $RESULTS/throughput.png"
if [ "$FAILURES" -gt 0 ]; then
	echo "$FAILURES checks FAILED"
	exit 1
fi
echo "all checks passed"
