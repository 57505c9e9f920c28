# test/citus_cluster.sh: a throwaway Citus cluster on 127.0.0.1 for
# test/citus.sh and bench/citus.sh; source it after test/fault/common.sh
# (servers in $WORK, stopped on exit).
#   need_citus                 Citus for this machine's PostgreSQL, built from
#                              ../shared/citus (once) if missing; else prints
#                              "1..0 # SKIP ..." and exits
#   start_node PORT [SETTING]  a node with Citus loaded, citus created
#   start_citus_cluster [SETTING]  the coordinator and two workers, added
#   on PORT STATEMENT, coordinator STATEMENT   run it there, unaligned
#   recipe_block N             the Nth SQL block of docs/scaling.md marked
#                              "<!-- test/citus.sh runs this block -->"

CITUS_SOURCE=$(cd "$REPO_ROOT/.." && pwd)/shared/citus
COORDINATOR=${CITUS_PORT:-9700}
WORKERS=("$((COORDINATOR + 1))" "$((COORDINATOR + 2))")

need_citus() {
	[ -f "$($PG_CONFIG --pkglibdir)/citus.so" ] && return
	if [ "$PG_VERSION" -gt 17 ]; then
		echo "1..0 # SKIP Citus 13.2 does not support PostgreSQL $PG_VERSION"
		exit 0
	elif [ -f "$CITUS_SOURCE/build.sh" ]; then
		echo "# building Citus from $CITUS_SOURCE (once)"
		# the server headers of 17 include ICU's, which
		# postgresql-server-dev-17 does not pull in
		install_missing libicu-dev >&2
		as_root bash "$CITUS_SOURCE/build.sh" "$PG_CONFIG" >&2
	else
		echo "1..0 # SKIP Citus is not installed and $CITUS_SOURCE is not there"
		exit 0
	fi
}

# start_node PORT [SETTING ...]: a new cluster on 127.0.0.1:PORT with Citus
# (and pg_stat_statements) loaded and created
start_node() {
	local port=$1
	shift
	new_server "node-$port" "port = $port" \
		"shared_preload_libraries = 'citus, pg_stat_statements'" \
		"pg_stat_statements.track = all" "track_functions = all" \
		"max_connections = 200" "max_prepared_transactions = 200" \
		"wal_level = logical" "citus.shard_count = 8" "$@"
	start_server "$WORK/node-$port"
	on "$port" "CREATE EXTENSION citus; CREATE EXTENSION pg_stat_statements" >/dev/null
}

# start_citus_cluster [SETTING ...]: the coordinator and the two workers
start_citus_cluster() {
	local port
	start_node "$COORDINATOR" "$@"
	for port in "${WORKERS[@]}"; do start_node "$port" "$@"; done
	coordinator "SELECT citus_set_coordinator_host('127.0.0.1', $COORDINATOR)" >/dev/null
	for port in "${WORKERS[@]}"; do
		coordinator "SELECT citus_add_node('127.0.0.1', $port)" >/dev/null
	done
}

# on PORT STATEMENT: run it on that node; results unaligned, errors as
# "ERROR:  SQLSTATE" on stderr
on() {
	psql -X -q -t -A -h 127.0.0.1 -p "$1" -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$2"
}
coordinator() { on "$COORDINATOR" "$1"; }

# recipe_block N: the Nth SQL block that docs/scaling.md marks for test/citus.sh
recipe_block() {
	awk -v n="$1" '
		/^<!-- test\/citus.sh runs this block -->$/ { marked++; next }
		marked == n && /^```sql$/ { inside = 1; next }
		inside && /^```$/ { exit }
		inside { print }' "$REPO_ROOT/docs/scaling.md"
}
