#!/usr/bin/env bash
# bench/citus.sh: what scaling out on Citus costs, against one node of the
# same machine at the same moment.  Starts a plain PostgreSQL server and a
# Citus cluster (a coordinator and two workers, test/citus_cluster.sh; the
# recipe run from docs/scaling.md), the extension on all of them,
# enrollment.events off everywhere, and measures:
#
# 1. Throughput: pgbench -M prepared, CLIENTS clients (-j 2), DURATION
#    seconds, one apply_payment() of 0.01 per transaction, on one hot
#    enrollment and on N_SPREAD enrollments (a random one per payment), for
#      single       the plain server, table_access = auto (direct)
#      single-sql   the plain server, table_access = sql
#      citus        through the coordinator (calls delegated to the workers)
#    and, as the reference on each, the bare UPDATE of amount_paid and
#    amount_due that the extension replaces (no checks, no ledger):
#      single-update, citus-update
#    alternating inside each scenario, REPS times; the median is reported,
#    with the ratios.
# 2. Server-side cost per call: N_SERVER calls in one statement
#    (SELECT count(apply_payment(...)) FROM a list of users), on the plain
#    server with each table_access, and on the first worker for users whose
#    shards it holds: the SQL path as it runs there, Citus planning and
#    executing each of its statements locally.  REPS repetitions,
#    alternating; the median.
#
#   bash bench/citus.sh
#   DURATION=5 REPS=1 bash bench/citus.sh     a short run
#
# Prints the tables and writes them to bench/results/citus.md.  Needs
# Citus (built from ../shared/citus if missing, as test/citus.sh does).
source "$(dirname "$0")/../test/fault/common.sh"	# scripts/lib.sh, $WORK
source test/citus_cluster.sh

: "${DURATION:=10}" "${REPS:=3}" "${CLIENTS:=8}" "${N_SPREAD:=2000}" "${N_SERVER:=3000}"
RESULTS=$REPO_ROOT/bench/results/citus.md
SINGLE=$((COORDINATOR + 9))	# the plain server's port

need_citus
build_and_install
unset PGPORT PGDATABASE PGOPTIONS

new_server single "port = $SINGLE" "max_connections = 200" "enrollment.events = off"
start_server "$WORK/single"
on "$SINGLE" "CREATE EXTENSION enrollment" >/dev/null
start_citus_cluster "enrollment.events = off"
coordinator "CREATE EXTENSION enrollment"
for block in 1 2 3; do
	recipe_block "$block" >"$WORK/recipe-$block.sql"
	psql -X -q -h 127.0.0.1 -p "$COORDINATOR" -v ON_ERROR_STOP=1 \
		-f "$WORK/recipe-$block.sql" >/dev/null
done

# the same enrollments everywhere: hot, u1 .. uN_SPREAD, s1 .. s(2 N_SERVER),
# and for the bare UPDATE, whose rows have no ledger, hotv and v1 .. vN_SPREAD
for port in "$SINGLE" "$COORDINATOR"; do
	on "$port" "SELECT enrollment.enroll(u, 'bench', 100000000) FROM unnest(ARRAY['hot', 'hotv']) u;
	            SELECT count(enrollment.enroll(p || i, 'bench', 100000000))
	              FROM generate_series(1, $N_SPREAD) i, unnest(ARRAY['u', 'v']) p;
	            SELECT count(enrollment.enroll('s' || i, 'bench', 100000000))
	              FROM generate_series(1, 2 * $N_SERVER) i" >/dev/null
done
# the server-side calls: N_SERVER users whose shards the first worker holds
coordinator "SELECT 's' || i FROM generate_series(1, 2 * $N_SERVER) i
              WHERE (SELECT nodeport FROM pg_dist_shard_placement
                      WHERE shardid = get_shard_id_for_distribution_column(
                              'enrollment.enrollments', 's' || i)) = ${WORKERS[0]}
              ORDER BY i LIMIT $N_SERVER" >"$WORK/users.txt"
served=$(wc -l <"$WORK/users.txt")

cat >"$WORK/hot.sql" <<'EOF'
SELECT enrollment.apply_payment('hot', 'bench', 0.01);
EOF
cat >"$WORK/spread.sql" <<EOF
\set uid random(1, $N_SPREAD)
SELECT enrollment.apply_payment('u' || :uid, 'bench', 0.01);
EOF
for scenario in hot spread; do
	sed -e "s/'hot'/'hotv'/; s/'u' ||/'v' ||/" \
		-e 's/^SELECT enrollment.apply_payment(\(.*\), .bench., 0.01);$/UPDATE enrollment.enrollments SET amount_paid = amount_paid + 0.01, amount_due = amount_due - 0.01, status = '"'partial'"' WHERE user_id = \1 AND course_id = '"'bench'"';/' \
		"$WORK/$scenario.sql" >"$WORK/$scenario-update.sql"
done

# tps TARGET SCENARIO: one pgbench run; prints transactions per second
tps() {
	local port=$SINGLE options="" script=$2
	case $1 in
	single-sql) options="-c enrollment.table_access=sql" ;;
	citus) port=$COORDINATOR ;;
	single-update) script=$2-update ;;
	citus-update) port=$COORDINATOR script=$2-update ;;
	esac
	PGOPTIONS=$options pgbench -n -M prepared -h 127.0.0.1 -p "$port" \
		-c "$CLIENTS" -j 2 -T "$DURATION" -f "$WORK/$script.sql" postgres >"$WORK/pgbench.log" 2>&1 ||
		{ cat "$WORK/pgbench.log" >&2; exit 1; }
	grep -q 'number of failed transactions: 0 ' "$WORK/pgbench.log" ||
		{ cat "$WORK/pgbench.log" >&2; exit 1; }
	sed -n 's/^tps = \([0-9]*\).*/\1/p' "$WORK/pgbench.log"
}

# per_call TARGET: microseconds per apply_payment() over the users listed
per_call() {
	local port=$SINGLE options=""
	case $1 in
	single-sql) options="-c enrollment.table_access=sql" ;;
	worker) port=${WORKERS[0]} ;;
	esac
	PGOPTIONS=$options psql -X -q -t -A -h 127.0.0.1 -p "$port" -v ON_ERROR_STOP=1 <<-EOF | tail -n 1
	CREATE TEMP TABLE users (user_id text);
	\copy users FROM '$WORK/users.txt'
	SELECT clock_timestamp() AS started \gset
	SELECT count(enrollment.apply_payment(user_id, 'bench', 0.01)) FROM users;
	SELECT round(extract(epoch FROM clock_timestamp() - :'started') * 1e6 / $served, 1);
	EOF
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

declare -A measured
for rep in $(seq "$REPS"); do
	for scenario in hot spread; do
		for target in single single-sql single-update citus citus-update; do
			measured[$scenario,$target]+="$(tps "$target" "$scenario") "
		done
	done
	for target in single single-sql worker; do
		measured[server,$target]+="$(per_call "$target") "
	done
	echo "# repetition $rep of $REPS done" >&2
done
m() { tr ' ' '\n' <<<"${measured[$1]}" | grep . | median; }

# the ledger and the balances agree after all of it (but where the bare
# UPDATE wrote)
for port in "$SINGLE" "$COORDINATOR"; do
	[ "$(on "$port" "SELECT count(*) FROM enrollment.verify() WHERE user_id !~ '^(hotv|v[0-9]+)$'")" = 0 ] ||
		{ echo "FAIL: verify() on port $port found problems" >&2; exit 1; }
done

{
	echo "## Citus: through a coordinator and two workers, against one node"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(on "$SINGLE" "SELECT version()" | cut -d, -f1)," \
		"Citus $(coordinator "SELECT extversion FROM pg_extension WHERE extname = 'citus'"):" \
		"all four servers on this one machine; $CLIENTS clients, $DURATION s per run," \
		"median of $REPS; enrollment.events off. Made by bench/citus.sh."
	echo
	echo "| payments per second | single node: direct | sql | bare UPDATE | Citus, through the coordinator | bare UPDATE there | Citus / single (direct) | ours / bare UPDATE: single, Citus |"
	echo "|---|---|---|---|---|---|---|---|"
	for scenario in hot spread; do
		label="one hot enrollment"
		[ "$scenario" = spread ] && label="$N_SPREAD enrollments"
		echo "| $label | $(m "$scenario,single") | $(m "$scenario,single-sql") | $(m "$scenario,single-update") |" \
			"$(m "$scenario,citus") | $(m "$scenario,citus-update") |" \
			"$(ratio "$(m "$scenario,citus")" "$(m "$scenario,single")") |" \
			"$(ratio "$(m "$scenario,single")" "$(m "$scenario,single-update")"), $(ratio "$(m "$scenario,citus")" "$(m "$scenario,citus-update")") |"
	done
	echo
	echo "| µs per apply_payment(), $served calls in one statement | single node (direct) | single node (sql) | on a worker (sql, through Citus) | worker / direct | worker / sql |"
	echo "|---|---|---|---|---|---|"
	echo "| server-side | $(m server,single) | $(m server,single-sql) | $(m server,worker) |" \
		"$(ratio "$(m server,worker)" "$(m server,single)") | $(ratio "$(m server,worker)" "$(m server,single-sql)") |"
} | tee "$RESULTS"
