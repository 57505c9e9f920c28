#!/usr/bin/env bash
# test/fault/failover.sh: no acknowledged payment is lost when a
# synchronous standby takes over.  A primary and a standby made with
# pg_basebackup -R run on 127.0.0.1 (synchronous_standby_names = '*',
# synchronous_commit = on).
#
# First the known hazard of synchronous replication: with the standby
# stopped, a payment waits for it; cancelling the wait leaves the payment
# committed on the primary only (PostgreSQL warns that it might not be
# replicated).  A retry with the same idempotency key must not report
# success before the standby has the payment: it must wait as well, and
# return replayed = true once the standby is back.
#
# Then the client (client.c) pays under load through a two-host connection
# string (target_session_attrs=read-write), logging every acknowledged
# call; halfway through, the primary's postmaster is killed with kill -9
# and the standby promoted, and the clients carry on there.  Every payment
# acknowledged to a client must be on the promoted standby exactly once,
# and the invariants must hold there.
#
#   bash test/fault/failover.sh              # 20 s of load, about 35 s in all
#   bash test/fault/failover.sh --long       # 5 minutes of load
#   DURATION=120 CLIENTS=16 bash test/fault/failover.sh
#
# Prints TAP lines and figures (lines starting with "#"); the exit status
# is non-zero if a check failed.
source "$(dirname "$0")/common.sh"

[ "${1:-}" = --long ] && DURATION=${DURATION:-300}
DURATION=${DURATION:-20}	# seconds of load; the primary dies halfway

ensure_packages libpq-dev
build_client

new_server primary
PRIMARY=$WORK/primary
start_server "$PRIMARY"
P1=$(server_port "$PRIMARY")
create_enrollments "$P1"
createdb -p "$P1" hazard
sql "$P1" hazard "CREATE EXTENSION enrollment;
                  SELECT enrollment.enroll('hazard-user', 'course', 100)" >/dev/null

server_folder standby
STANDBY=$WORK/standby
as_cluster_owner pg_basebackup -h 127.0.0.1 -p "$P1" -U postgres \
	-D "$STANDBY/data" -R -X stream -c fast
configure_server "$STANDBY"
start_server "$STANDBY"
P2=$(server_port "$STANDBY")

# Only the primary asks for a synchronous standby: once promoted, the
# standby has none and must not wait for one.
psql -X -q -v ON_ERROR_STOP=1 -p "$P1" -d postgres \
	-c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
	-c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null

standby_is_sync() {
	poll "$P1" postgres \
		"SELECT count(*) = 1 FROM pg_stat_replication WHERE sync_state = 'sync'"
}

tap "$(standby_is_sync && echo t)" "the standby replicates synchronously"

# --- the hazard: a cancelled wait for the standby, then a retry ---

# hazard_payment NAME: pay with the key hazard-key in the background, as
# application NAME; the output ("payment_id replayed" and warnings) goes
# to $WORK/NAME.out, the pid to HAZARD_PID.
hazard_payment() {
	PGAPPNAME=$1 psql -X -q -t -A -F ' ' -p "$P1" -d hazard -c "
		SELECT payment_id, replayed
		  FROM enrollment.apply_payment('hazard-user', 'course', 10, 'hazard-key')" \
		>"$WORK/$1.out" 2>&1 &
	HAZARD_PID=$!
}

waits_for_standby() {	# waits_for_standby NAME
	poll "$P1" postgres "SELECT count(*) = 1 FROM pg_stat_activity
	                      WHERE application_name = '$1' AND wait_event = 'SyncRep'"
}

finished() {		# finished PID SECONDS: true if PID ends within SECONDS
	local i
	for i in $(seq $(($2 * 2))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.5
	done
	return 1
}

as_cluster_owner pg_ctl -D "$STANDBY/data" -m fast -w stop >/dev/null
hazard_payment first
first_pid=$HAZARD_PID
tap "$(waits_for_standby first && echo t)" \
	"standby stopped: a payment waits for it (wait_event SyncRep)"
sql "$P1" postgres "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
                     WHERE application_name = 'first'" >/dev/null
wait "$first_pid" || true
tap "$(grep -q 'might not have been replicated' "$WORK/first.out" && echo t)" \
	"cancelling the wait: PostgreSQL warns the payment committed locally but might not be replicated"
first_lsn=$(sql "$P1" postgres "SELECT pg_current_wal_insert_lsn()")

hazard_payment retry
retry_pid=$HAZARD_PID
tap "$(waits_for_standby retry && ! finished "$retry_pid" 3 && echo t)" \
	"standby stopped: a retry with the same key does not return, it waits for the standby (wait_event SyncRep)"

retry_waited=$(kill -0 "$retry_pid" 2>/dev/null && echo t || true)
start_server "$STANDBY"
finished "$retry_pid" 30 || kill "$retry_pid"
received=$(sql "$P2" postgres "SELECT pg_last_wal_receive_lsn() >= '$first_lsn'")
wait "$retry_pid" || true
first_payment=$(grep -Eo '^[0-9]+ f$' "$WORK/first.out" | cut -d ' ' -f 1 || true)
tap "$([ -n "$first_payment" ] && grep -qx "$first_payment t" "$WORK/retry.out" && echo t)" \
	"standby back: the retry returns the first payment ($first_payment) with replayed = true"
tap "$([ "$retry_waited" = t ] && [ "$received" = t ] && echo t)" \
	"when the retry returned, the standby had the payment's WAL"
tap "$(poll "$P2" hazard "SELECT count(*) = 1 FROM enrollment.payments
                          WHERE idempotency_key = 'hazard-key'" && echo t)" \
	"the payment is on the standby, once"
sed 's/^/# first call: /' "$WORK/first.out"
sed 's/^/# retry: /' "$WORK/retry.out"

# --- failover under load ---

tap "$(standby_is_sync && echo t)" "the standby replicates synchronously again"
run_client "host=127.0.0.1,127.0.0.1 port=$P1,$P2 dbname=fault target_session_attrs=read-write" \
	"$DURATION"
sleep $((DURATION / 2))
postmaster=$(postmaster_pid "$PRIMARY")
backends=$(ps -o pid= --ppid "$postmaster" | tr '\n' ' ')
kill -9 "$postmaster"
SERVERS=("$STANDBY")		# the primary is gone: stop only the standby on exit
as_cluster_owner pg_ctl -D "$STANDBY/data" -w promote >/dev/null
# the primary's processes end when they notice their postmaster is gone
leftover=0
for pid in $backends; do
	finished "$pid" 10 || { kill -9 "$pid" 2>/dev/null || true; leftover=$((leftover + 1)); }
done
tap "$([ "$leftover" -eq 0 ] && echo t)" \
	"the dead primary's processes ended by themselves ($leftover killed)"
wait_client

tap "$(sql "$P2" postgres "SELECT NOT pg_is_in_recovery()")" "the standby was promoted"
check_server_log "$STANDBY"
check_calls "$P2" "host=127.0.0.1 port=$P2 dbname=fault"
acknowledged=$(sql "$P2" fault "SELECT count(*) FROM checks.calls
                                 WHERE outcome <> 'unknown' AND server = $P1")
tap "$([ "$acknowledged" -gt 0 ] && echo t)" \
	"calls answered by the primary before it died are among those checked on the standby"
echo "# answered by primary    $acknowledged, then the primary was killed (kill -9) and the standby promoted"
tap_done
