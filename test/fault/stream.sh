#!/usr/bin/env bash
# test/fault/stream.sh: the change stream (enrollment.events = wal) under
# faults.  While the fault client (client.c) pays through the faults of
# fault.sh (backends terminated, a backend killed -9 so that the server
# restarts every backend and recovers, an immediate stop and restart) and
# a loop makes calls that roll back, three consumers read the events from
# slots of their own:
#   - a client of the logical replication protocol (psycopg2,
#     LogicalReplicationConnection, pgoutput with messages 'true'), as a
#     role with the REPLICATION attribute;
#   - a client of enrollment.read_events() and confirm_events(), as a role
#     granted those two functions and nothing else;
#   - pg_recvlogical with test_decoding (include-xids), which confirms only
#     what it has written, so that after a restart it may be sent again
#     what it wrote but had not yet confirmed: dropped by transaction id.
# One consumer is killed with kill -9 and started again between faults.
# At the end, each has received every committed ledger row once, with its
# values and its transaction, in commit order, and nothing of a call that
# rolled back (consumer.py check).  Runs its own throwaway server.
#
#   bash test/fault/stream.sh            # 30 s of load
#   DURATION=120 bash test/fault/stream.sh
#
# Prints TAP lines and figures (lines starting with "#"); the exit status
# is non-zero if a check failed.
source "$(dirname "$0")/common.sh"

DURATION=${DURATION:-30}
INTERVAL=${INTERVAL:-2}		# seconds between a fault and a consumer's kill
CONSUMERS=(stream sql recvlogical)
PYTHON=/usr/bin/python3	# Debian's, which has the python3-* packages

ensure_packages libpq-dev python3-psycopg2
build_client
new_server server "wal_level = logical"
SERVER=$WORK/server
start_server "$SERVER"
PORT=$(server_port "$SERVER")
CONNINFO="host=127.0.0.1 port=$PORT dbname=fault"

# The setup of docs/events.md: the publication, a slot per consumer, the roles.
createdb -p "$PORT" "$FAULT_DB"
sql "$PORT" "$FAULT_DB" "CREATE EXTENSION enrollment; CREATE PUBLICATION enrollment_events"
sql "$PORT" "$FAULT_DB" "
	SELECT pg_create_logical_replication_slot('stream', 'pgoutput');
	SELECT pg_create_logical_replication_slot('recvlogical', 'test_decoding');
	SELECT enrollment.create_event_slot('sql');
	CREATE ROLE events_stream LOGIN REPLICATION;
	CREATE ROLE events_reader LOGIN;
	GRANT USAGE ON SCHEMA enrollment TO events_reader;
	GRANT EXECUTE ON FUNCTION enrollment.read_events(name, integer),
		enrollment.confirm_events(name, pg_lsn) TO events_reader" >/dev/null
create_enrollments "$PORT"
sql "$PORT" "$FAULT_DB" "SELECT enrollment.enroll('rollback', 'course', 1000000);
	SELECT enrollment.enroll('marker', 'end', 1)" >/dev/null

declare -A CONSUMER_PID
start_consumer() {	# start_consumer NAME
	local cmd
	case $1 in
	stream) cmd=("$PYTHON" "$FAULT_DIR/consumer.py" stream
		"host=127.0.0.1 port=$PORT dbname=$FAULT_DB user=events_stream" stream) ;;
	sql) cmd=("$PYTHON" "$FAULT_DIR/consumer.py" sql
		"host=127.0.0.1 port=$PORT dbname=$FAULT_DB user=events_reader" sql) ;;
	recvlogical) cmd=(pg_recvlogical -h 127.0.0.1 -p "$PORT" -U events_stream
		-d "$FAULT_DB" --slot recvlogical --start -o include-xids=1
		-o skip-empty-xacts=1 -s 1 -F 1 -f) ;;
	esac
	"${cmd[@]}" "$WORK/$1.out" 2>>"$WORK/$1.log" &
	CONSUMER_PID[$1]=$!
}
for c in "${CONSUMERS[@]}"; do start_consumer "$c"; done

# Calls that roll back while the client pays: with their transaction, to a
# savepoint in a transaction that commits, with a transaction that a later
# refused call (an overpayment) aborts.
rollbacks() {
	while :; do
		psql -X -q -p "$PORT" -d "$FAULT_DB" >/dev/null 2>&1 <<-'EOF'
			BEGIN;
			SELECT enrollment.apply_payment('rollback', 'course', 1.00);
			ROLLBACK;
			BEGIN;
			SAVEPOINT s;
			SELECT enrollment.apply_payment('rollback', 'course', 2.00);
			ROLLBACK TO s;
			COMMIT;
			BEGIN;
			SELECT enrollment.apply_payment('rollback', 'course', 3.00);
			SELECT enrollment.apply_payment('hot-1', 'course', 2000000.00);
			COMMIT;
		EOF
		echo >>"$WORK/rollbacks"
		sleep 0.1
	done
}
rollbacks &
ROLLBACKS_PID=$!

consumer_kills=0
run_client "$CONNINFO" "$DURATION"
end=$((SECONDS + DURATION))
i=0
while sleep "$INTERVAL" && [ $((SECONDS + INTERVAL)) -le "$end" ]; do
	if [ $((i % 2)) -eq 0 ]; then
		inject "${FAULTS[(i / 2) % ${#FAULTS[@]}]}"
	else
		c=${CONSUMERS[(i / 2) % ${#CONSUMERS[@]}]}
		kill -9 "${CONSUMER_PID[$c]}" 2>/dev/null && consumer_kills=$((consumer_kills + 1))
		wait "${CONSUMER_PID[$c]}" 2>/dev/null || true
		start_consumer "$c"
	fi
	i=$((i + 1))
done
wait_client
kill "$ROLLBACKS_PID" 2>/dev/null || true
wait "$ROLLBACKS_PID" 2>/dev/null || true
tap "$([ "$terminated" -gt 0 ] && [ "$killed" -gt 0 ] && [ "$restarted" -gt 0 ] &&
	[ "$consumer_kills" -ge ${#CONSUMERS[@]} ] && echo t)" \
	"every kind of fault was injected, and each consumer was killed and started again"
check_server_log "$SERVER"
check_calls "$PORT" "$CONNINFO"

# The last event: when every consumer has it, they have everything.
sql "$PORT" "$FAULT_DB" "SELECT enrollment.apply_payment('marker', 'end', 1)" >/dev/null
caught_up=
for i in $(seq 600); do
	caught_up=t
	grep -q '"user_id": "marker"' "$WORK/stream.out" || caught_up=
	grep -q '"user_id": "marker"' "$WORK/sql.out" || caught_up=
	grep -q '"user_id": "marker"' "$WORK/recvlogical.out" || caught_up=
	[ -n "$caught_up" ] && break
	sleep 0.2
done
tap "$caught_up" "every consumer received the last event within 2 minutes"
sleep 2		# pg_recvlogical writes the COMMIT line after the message
for c in "${CONSUMERS[@]}"; do kill "${CONSUMER_PID[$c]}" 2>/dev/null || true; done
wait

sql "$PORT" "$FAULT_DB" "COPY (SELECT payment_id, xmin, user_id, course_id, kind, amount,
		amount_paid_after, amount_due_after, status_after
	  FROM enrollment.payments ORDER BY payment_id) TO STDOUT" >"$WORK/ledger.tsv"
tap "$(sql "$PORT" "$FAULT_DB" "SELECT count(*) = 0 FROM enrollment.payments
	WHERE user_id = 'rollback'")" \
	"the calls that rolled back left no ledger row ($(wc -l <"$WORK/rollbacks") rounds of them)"
while IFS=$'\t' read -r result description; do
	if [ "$result" = "#" ]; then
		echo "# $description"
	else
		tap "$result" "$description"
	fi
done < <("$PYTHON" "$FAULT_DIR/consumer.py" check "$WORK/ledger.tsv" \
	"$WORK/stream.out" "$WORK/sql.out" "$WORK/recvlogical.out" || echo "f	the checker failed")
# A consumer away for too long: max_slot_wal_keep_size invalidates its slot;
# read_events() says so, and a new slot resumes the stream.
as_events_reader() {	# as_events_reader QUERY [PSQL OPTION...]
	psql -X -q -t -A -v ON_ERROR_STOP=1 -p "$PORT" -d "$FAULT_DB" -U events_reader -c "$1" "${@:2}"
}
sql "$PORT" "$FAULT_DB" "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'" >/dev/null
sql "$PORT" "$FAULT_DB" "SELECT pg_reload_conf()" >/dev/null
for i in 1 2 3; do
	sql "$PORT" "$FAULT_DB" "SELECT count(enrollment.enroll('away-' || $i || '-' || g, 'away', 1))
		FROM generate_series(1, 100) g; SELECT pg_switch_wal()" >/dev/null
	sql "$PORT" "$FAULT_DB" "CHECKPOINT" >/dev/null
done
state=$(sql "$PORT" "$FAULT_DB" "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'sql'")
refusal=$(as_events_reader "SELECT count(*) FROM enrollment.read_events('sql')" \
	-v VERBOSITY=sqlstate 2>&1 || true)
tap "$([ "$state" = lost ] && [ "$refusal" = "ERROR:  55000" ] && echo t)" \
	"a slot past max_slot_wal_keep_size is lost ($state) and read_events() refuses it with 55000 ($refusal)"
sql "$PORT" "$FAULT_DB" "ALTER SYSTEM RESET max_slot_wal_keep_size" >/dev/null
sql "$PORT" "$FAULT_DB" "SELECT pg_reload_conf(); SELECT enrollment.drop_event_slot('sql')" >/dev/null
sql "$PORT" "$FAULT_DB" "SELECT enrollment.create_event_slot('sql')" >/dev/null
sql "$PORT" "$FAULT_DB" "SELECT enrollment.enroll('back', 'away', 1);
	SELECT enrollment.apply_payment('back', 'away', 1)" >/dev/null
tap "$(as_events_reader "SELECT count(*) = 1 AND bool_and(event->>'user_id' = 'back')
	FROM enrollment.read_events('sql')")" \
	"a slot created again streams the events from then on"
# While a replication connection streams an event slot, the SQL functions
# refuse it with 55006 (a consumer must not share its slot).
pg_recvlogical -h 127.0.0.1 -p "$PORT" -U events_stream -d "$FAULT_DB" -S sql \
	-o proto_version=1 -o publication_names=enrollment_events --start -f /dev/null &
held=$!
poll "$PORT" "$FAULT_DB" "SELECT active FROM pg_replication_slots WHERE slot_name = 'sql'"
busy=$(as_events_reader "SELECT count(*) FROM enrollment.read_events('sql')" \
	-v VERBOSITY=sqlstate 2>&1 || true)
busy_drop=$(psql -X -q -t -A -p "$PORT" -d "$FAULT_DB" -v VERBOSITY=sqlstate \
	-c "SELECT enrollment.drop_event_slot('sql')" 2>&1 || true)
kill "$held" && wait "$held" || true
tap "$([ "$busy" = "ERROR:  55006" ] && [ "$busy_drop" = "ERROR:  55006" ] && echo t)" \
	"while a replication connection streams the slot, read_events() and drop_event_slot() refuse it with 55006 ($busy; $busy_drop)"
echo "# faults                 $terminated backends terminated, $killed killed -9, $restarted immediate stops and restarts, $consumer_kills consumers killed -9"
for c in "${CONSUMERS[@]}"; do
	echo "# $c consumer: $(grep -c . "$WORK/$c.log" || true) lines of errors, reconnected after each; the first:"
	sort "$WORK/$c.log" | uniq -c | sort -rn | head -3 | sed 's/^/#   /'
done
tap_done
