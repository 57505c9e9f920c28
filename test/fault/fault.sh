#!/usr/bin/env bash
# test/fault/fault.sh: exactly-once payments under faults, checked as
# Jepsen's bank workload checks a database.  Concurrent clients
# (client.c, libpq) pay with unique idempotency keys and retry through the
# faults injected meanwhile: pg_terminate_backend() of client backends,
# kill -9 of a client backend (the server then restarts every backend and
# recovers), and an immediate stop followed by a restart.  The server stays
# down longer than a client retries a call, so the calls in flight end up
# unknown; at the end each one is sent again with its key, and the ledger
# is checked against what the clients were told.  Runs its own throwaway
# server.
#
#   bash test/fault/fault.sh             # 30 s of load, about 35 s in all
#   bash test/fault/fault.sh --long      # 10 minutes of load
#   DURATION=120 CLIENTS=16 CALLS=5000 bash test/fault/fault.sh
#
# CALLS caps the calls of each client (default: as many as DURATION
# allows).  Prints TAP lines and figures (lines starting with "#"); the
# exit status is non-zero if a check failed.
source "$(dirname "$0")/common.sh"

[ "${1:-}" = --long ] && DURATION=${DURATION:-600}
DURATION=${DURATION:-30}
INTERVAL=${INTERVAL:-3}		# seconds between two faults

ensure_packages libpq-dev
build_client
new_server server
SERVER=$WORK/server
start_server "$SERVER"
PORT=$(server_port "$SERVER")
CONNINFO="host=127.0.0.1 port=$PORT dbname=fault"
create_enrollments "$PORT"

run_client "$CONNINFO" "$DURATION"
end=$((SECONDS + DURATION))
i=0
while sleep "$INTERVAL" && [ $((SECONDS + INTERVAL)) -le "$end" ]; do
	inject "${FAULTS[i % ${#FAULTS[@]}]}"
	i=$((i + 1))
done
wait_client

tap "$([ "$terminated" -gt 0 ] && [ "$killed" -gt 0 ] && [ "$restarted" -gt 0 ] && echo t)" \
	"every kind of fault was injected"
check_server_log "$SERVER"
check_calls "$PORT" "$CONNINFO"
echo "# faults                 $terminated backends terminated, $killed killed -9, $restarted immediate stops and restarts"
tap_done
