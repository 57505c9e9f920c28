# test/fault/common.sh: shared by fault.sh and failover.sh.  Builds the
# payment client (client.c), runs throwaway servers on 127.0.0.1 at free
# ports, and checks the client's log against the ledger, printing TAP
# lines (test/tap.sh) and figures.  Source it; it sources scripts/lib.sh
# and test/tap.sh and, on exit, stops the servers and background jobs it
# started and removes its folder.

FAULT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$FAULT_DIR/../../scripts/lib.sh"
source "$FAULT_DIR/../tap.sh"

CLIENTS=${CLIENTS:-8}
HOT=${HOT:-4}			# enrollments hot-1 .. hot-N, price 1000000
SPREAD=${SPREAD:-2000}		# enrollments user-1 .. user-N, price 500
RETRY_SECONDS=${RETRY_SECONDS:-5}	# how long the client retries a call
FAULT_DB=${FAULT_DB:-fault}	# the database of the client's enrollments
export PGHOST=127.0.0.1 PGUSER=postgres

WORK=$(mktemp -d /tmp/enrollment-fault.XXXXXX)
chmod 755 "$WORK"
SERVERS=()			# folders of the servers to stop on exit

cleanup() {
	local pid dir
	for pid in $(jobs -pr); do kill "$pid" 2>/dev/null || true; done
	for dir in "${SERVERS[@]}"; do
		as_cluster_owner pg_ctl -D "$dir/data" -m immediate -w stop \
			>/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

sql() {		# sql PORT DATABASE QUERY
	psql -X -q -t -A -v ON_ERROR_STOP=1 -p "$1" -d "$2" -c "$3"
}

# poll PORT DATABASE QUERY: true once the query returns t (30 s at most)
poll() {
	local i
	for i in $(seq 60); do
		[ "$(sql "$1" "$2" "$3" 2>/dev/null)" = t ] && return
		sleep 0.5
	done
	return 1
}

build_client() {
	gcc -Wall -Wextra -Werror -O2 -I"$(pg_config --includedir)" \
		"$FAULT_DIR/client.c" -o "$WORK/client" -lpq -lpthread
}

# A TCP port on 127.0.0.1 that nothing listens on, below the range the
# kernel takes ports of outgoing connections from: such a port is bound
# without listening, and a server could not bind it.
free_port() {
	local port low
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 11024 ] || low=30000	# a range that starts low: take our chances
	while :; do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# server_folder NAME: a new folder $WORK/NAME for a cluster, owned by the
# cluster owner, stopped on exit.
server_folder() {
	mkdir "$WORK/$1"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK/$1"
	SERVERS+=("$WORK/$1")
}

# configure_server FOLDER [setting ...]: listen on 127.0.0.1 at a free port
# (the last port line wins), Unix socket in FOLDER.
configure_server() {
	local folder=$1 setting
	shift
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $(free_port)"
		echo "unix_socket_directories = '$folder'"
		echo "fsync = on"
		echo "max_connections = 100"
		echo "shared_buffers = 128MB"
		echo "log_min_messages = warning"
		for setting in "$@"; do echo "$setting"; done
	} >>"$folder/data/postgresql.conf"
}

# new_server NAME [setting ...]: initdb a cluster in $WORK/NAME.
new_server() {
	local folder=$WORK/$1
	server_folder "$1"
	shift
	as_cluster_owner initdb -D "$folder/data" -U postgres -A trust \
		--no-sync -E UTF8 --locale=C.UTF-8 >"$folder/initdb.log" 2>&1 ||
		{ cat "$folder/initdb.log"; return 1; }
	configure_server "$folder" "$@"
}

start_server() {	# start_server FOLDER; on failure, the end of its log
	as_cluster_owner pg_ctl -D "$1/data" -l "$1/server.log" -w -t 120 start \
		>/dev/null || { tail -n 20 "$1/server.log" | sed 's/^/# /'; return 1; }
}

# restart_server FOLDER: an immediate stop, down longer than a client
# retries a call, then a start
restart_server() {
	as_cluster_owner pg_ctl -D "$1/data" -m immediate -w stop >/dev/null
	sleep $((RETRY_SECONDS + 1))
	start_server "$1"
}

server_port() {		# server_port FOLDER
	sed -n 's/^port = //p' "$1/data/postgresql.conf" | tail -n 1
}

postmaster_pid() {	# postmaster_pid FOLDER
	head -n 1 "$1/data/postmaster.pid"
}

# create_enrollments PORT: the client's enrollments, in course "course"
# of $FAULT_DB; creates the database and the extension unless it exists
create_enrollments() {
	if [ -z "$(sql "$1" postgres "SELECT 1 FROM pg_database WHERE datname = '$FAULT_DB'")" ]; then
		createdb -p "$1" "$FAULT_DB"
		sql "$1" "$FAULT_DB" "CREATE EXTENSION enrollment"
	fi
	sql "$1" "$FAULT_DB" "
		SELECT count(enrollment.enroll('hot-' || i, 'course', 1000000))
		  FROM generate_series(1, $HOT) i;
		SELECT count(enrollment.enroll('user-' || i, 'course', 500))
		  FROM generate_series(1, $SPREAD) i" >/dev/null
}

# run_client CONNINFO SECONDS: start the client in the background, logging
# to $WORK/calls.log; its pid is in CLIENT_PID.
run_client() {
	"$WORK/client" -c "$1" -o "$WORK/calls.log" -j "$CLIENTS" -d "$2" \
		-n "${CALLS:-0}" -H "$HOT" -S "$SPREAD" -w "$RETRY_SECONDS" -s "$RANDOM" &
	CLIENT_PID=$!
}

# wait_client: wait for the client; a TAP line says how it ended.
wait_client() {
	local status=0
	wait "$CLIENT_PID" || status=$?
	tap "$([ "$status" -eq 0 ] && [ -s "$WORK/calls.log" ] && echo t)" \
		"the client made $(wc -l <"$WORK/calls.log") calls and exited with status $status"
}

# check_calls PORT CONNINFO: send every unknown call of the log again with
# its key, then check the log against the ledger of the server at PORT:
# the rows of course "course", the client's only course, copied into the
# schema checks with the log (local tables, also under Citus).
check_calls() {
	local port=$1 q
	awk -F '\t' '$6 == "unknown"' "$WORK/calls.log" |
		"$WORK/client" -c "$2" -o "$WORK/resolved.log" -r
	sql "$port" "$FAULT_DB" "
		CREATE SCHEMA checks;
		CREATE TABLE checks.payments AS
		SELECT * FROM enrollment.payments WHERE course_id = 'course';
		CREATE TABLE checks.enrollments AS
		SELECT * FROM enrollment.enrollments WHERE course_id = 'course';
		CREATE TABLE checks.logged (key text, kind text, user_id text,
			course_id text, amount numeric, outcome text, sqlstate text,
			payment_id bigint, paid numeric, amount_paid numeric,
			amount_due numeric, status text, replayed boolean, attempts int,
			uncertain boolean, server int);
		CREATE TABLE checks.resolved (LIKE checks.logged)"
	psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d "$FAULT_DB" \
		-c "\\copy checks.logged FROM '$WORK/calls.log'" \
		-c "\\copy checks.resolved FROM '$WORK/resolved.log'"
	# each call's final outcome, and the ledger row of its key if any
	sql "$port" "$FAULT_DB" "
		CREATE VIEW checks.calls AS
		SELECT * FROM checks.resolved
		UNION ALL
		SELECT * FROM checks.logged l
		 WHERE NOT EXISTS (SELECT FROM checks.resolved r
		                    WHERE r.user_id = l.user_id AND r.key = l.key);
		CREATE VIEW checks.answered AS
		SELECT c.*, p.payment_id AS ledger_payment_id, p.course_id AS ledger_course_id,
		       p.amount AS ledger_amount, p.amount_paid_after, p.amount_due_after,
		       p.status_after
		  FROM checks.calls c
		  LEFT JOIN checks.payments p
		         ON p.user_id = c.user_id AND p.idempotency_key = c.key"

	q() { sql "$port" "$FAULT_DB" "$1"; }
	local unknown lost refused_paid duplicated mismatched
	unknown=$(q "SELECT count(*) FROM checks.calls WHERE outcome = 'unknown'")
	lost=$(q "SELECT count(*) FROM checks.answered
	           WHERE outcome = 'ok' AND ledger_payment_id IS NULL")
	refused_paid=$(q "SELECT count(*) FROM checks.answered
	                   WHERE outcome = 'refused' AND ledger_payment_id IS NOT NULL")
	# ledger rows that no ok call accounts for, and keys taken twice
	duplicated=$(q "
		SELECT (SELECT count(*) FROM checks.payments p
		         WHERE NOT EXISTS (SELECT FROM checks.calls c
		                            WHERE c.outcome = 'ok' AND c.user_id = p.user_id
		                              AND c.key = p.idempotency_key))
		     + (SELECT count(*) - count(DISTINCT (user_id, idempotency_key))
		          FROM checks.payments WHERE idempotency_key IS NOT NULL)")
	mismatched=$(q "
		SELECT count(*) FROM checks.answered
		 WHERE outcome = 'ok'
		   AND ((payment_id, course_id, paid, amount_paid, amount_due, status)
		        IS DISTINCT FROM (ledger_payment_id, ledger_course_id, ledger_amount,
		                          amount_paid_after, amount_due_after, status_after::text)
		        OR (kind = 'apply' AND amount <> paid)
		        OR (kind = 'refund' AND -amount <> paid))")

	tap "$([ "$unknown" -eq 0 ] && echo t)" \
		"every unknown call was resolved by a retry with its key ($unknown left)"
	tap "$([ "$lost" -eq 0 ] && echo t)" \
		"every ok call's key is in the ledger (lost = $lost)"
	tap "$([ "$refused_paid" -eq 0 ] && echo t)" \
		"no refused call's key is in the ledger ($refused_paid are)"
	tap "$([ "$duplicated" -eq 0 ] && echo t)" \
		"every ledger row is one ok call's, no key twice (duplicated = $duplicated)"
	tap "$([ "$mismatched" -eq 0 ] && echo t)" \
		"the results returned for ok calls match their ledger rows ($mismatched differ)"
	tap "$(q "SELECT count(*) = 0 FROM checks.calls WHERE replayed AND NOT uncertain")" \
		"only calls whose answer was lost were answered with replayed = true"
	tap "$(q "SELECT bool_and(e.amount_paid = coalesce(l.total, 0)
	                      AND e.amount_paid = coalesce(c.total, 0))
	            FROM checks.enrollments e
	            LEFT JOIN (SELECT user_id, course_id, sum(amount) AS total
	                         FROM checks.payments GROUP BY 1, 2) l
	                   USING (user_id, course_id)
	            LEFT JOIN (SELECT user_id, course_id, sum(paid) AS total
	                         FROM checks.calls WHERE outcome = 'ok' GROUP BY 1, 2) c
	                   USING (user_id, course_id)")" \
		"every enrollment: amount_paid = its ledger sum = the sum acknowledged to clients"
	tap "$(q "SELECT bool_and(amount_due = price - amount_paid
	                      AND amount_paid BETWEEN 0 AND price
	                      AND status = CASE WHEN status = 'refunded' AND amount_paid = 0
	                                             AND EXISTS (SELECT FROM checks.payments p
	                                                          WHERE p.user_id = e.user_id
	                                                            AND p.kind = 'refund')
	                                        THEN 'refunded'
	                                        WHEN amount_due = 0 THEN 'paid'
	                                        WHEN amount_paid = 0 THEN 'pending'
	                                        ELSE 'partial' END::enrollment.payment_status)
	            FROM checks.enrollments e")" \
		"every enrollment: amount_due = price - amount_paid, 0 <= amount_paid <= price, status agrees"
	tap "$(q "SELECT count(*) = 0 FROM enrollment.verify() WHERE course_id = 'course'")" \
		"enrollment.verify() finds nothing"
	tap "$(q "SELECT count(*) > 0 FROM checks.calls WHERE uncertain")" \
		"the faults cut calls in flight (answers lost, then resolved)"

	q "SELECT format(E'# calls                  %s\n'
	                 '# ok                     %s (%s replayed)\n'
	                 '# refused                %s (%s)\n'
	                 '# unknown, then resolved %s (%s had been applied; %s by the final retry pass)\n'
	                 '# retries                %s',
	                 count(*), count(*) FILTER (WHERE outcome = 'ok'),
	                 count(*) FILTER (WHERE replayed),
	                 count(*) FILTER (WHERE outcome = 'refused'),
	                 (SELECT coalesce(string_agg(sqlstate || ' ' || n, ', ' ORDER BY sqlstate), 'none')
	                    FROM (SELECT sqlstate, count(*) AS n FROM checks.calls
	                           WHERE outcome = 'refused' GROUP BY 1) s),
	                 count(*) FILTER (WHERE uncertain AND outcome <> 'unknown'),
	                 count(*) FILTER (WHERE uncertain AND replayed),
	                 (SELECT count(*) FROM checks.resolved),
	                 sum(attempts - 1))
	     FROM checks.calls"
	echo "# lost                   $lost"
	echo "# duplicated             $duplicated"
}

terminated=0
killed=0
restarted=0

# inject terminate|kill9|restart: a fault on the server in $SERVER at
# $PORT (database fault), counted; FAULTS is the usual sequence of them
FAULTS=(terminate kill9 terminate restart terminate terminate)
inject() {
	local pid n
	case $1 in
		terminate)
			n=$(sql "$PORT" fault "
				SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
				  FROM (SELECT pid FROM pg_stat_activity
				         WHERE application_name = 'enrollment-fault-client'
				         ORDER BY random() LIMIT 3) b" 2>/dev/null || echo 0)
			terminated=$((terminated + n))
			;;
		kill9)
			pid=$(sql "$PORT" fault "
				SELECT pid FROM pg_stat_activity
				 WHERE application_name = 'enrollment-fault-client'
				 ORDER BY random() LIMIT 1" 2>/dev/null || true)
			# only a child of this test's postmaster
			if [ -n "$pid" ] &&
				[ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = "$(postmaster_pid "$SERVER")" ] &&
				kill -9 "$pid" 2>/dev/null; then
				killed=$((killed + 1))
				poll "$PORT" fault "SELECT true" || true	# recovered
			fi
			;;
		restart)
			restart_server "$SERVER"
			restarted=$((restarted + 1))
			;;
	esac
}

# No server process died of a signal other than the kill -9 we sent.
check_server_log() {	# check_server_log FOLDER
	local crashes
	crashes=$(grep 'terminated by signal' "$1/server.log" |
		grep -vc 'signal 9: Killed' || true)
	tap "$([ "$crashes" -eq 0 ] && echo t)" \
		"no server process crashed by itself ($crashes in $(basename "$1")'s log)"
	[ "$crashes" -eq 0 ] ||
		grep -A 1 'terminated by signal' "$1/server.log" | sed 's/^/# /'
}
