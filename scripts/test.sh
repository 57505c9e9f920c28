#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, on every supported major.
#   bash scripts/test.sh          this machine's major, then the others in
#                                 fresh Debian roots (scripts/matrix.sh);
#                                 needs root
#   bash scripts/test.sh --host   this machine's major only
# On this machine's major: installs what is missing, builds the extension
# warning-free, starts a throwaway server, and runs
#   pg_regress (sql/, expected/), the isolation tester (test/isolation/) and
#   pgTAP through pg_prove (test/pgtap/), twice: with payments reaching the
#   tables directly (enrollment.table_access = auto, which is direct here)
#   and through SQL statements (sql), which must behave the same; then the
#   shell tests that print TAP lines: the static checks of the install script
#   (test/install_script.sh), the pgbench concurrency check
#   (test/concurrency.sh), the randomized bad-input run (test/fuzz.sh),
#   pg_dump and pg_restore (test/dump_restore.sh), a fresh install against
#   an updated one (test/upgrade.sh), and the short runs of the
#   fault, change stream and failover tests (test/fault/), which start
#   servers of their own, the extension on a three-node Citus cluster (test/citus.sh,
#   which builds Citus once from ../shared/citus, or says it skipped), the
#   examples, links and errors table of the docs (test/docs.sh) and the
#   retry programs of docs/retries.md (test/recipes.sh).
#   The concurrency, fuzz, fault and stream tests run on both paths too.
# Each other major runs the demo, this same suite with --host, and the
# restore of a dump made here if it is a later major.
# The last line is "N passed, N failed" over all of them; the exit status is
# non-zero if anything failed.
source "$(dirname "$0")/lib.sh"

HOST_ONLY=false
case ${1:-} in
--host) HOST_ONLY=true ;;
"") ;;
*) echo "usage: $0 [--host]" >&2 && exit 2 ;;
esac

other_majors=()
if ! $HOST_ONLY && [ "$(id -u)" -eq 0 ]; then
	source scripts/matrix.sh
	mapfile -t other_majors < <(other_releases "$PG_VERSION")
fi

ensure_packages libpq-dev procps ${other_majors[0]:+debootstrap}
# the roots of the other majors are made while the suite runs here
[ ${#other_majors[@]} -eq 0 ] || start_bases "${other_majors[@]}"
build_and_install
# pgTAP's scale_out.sql reads the statements that payments run;
# pg_regress's events_wal reads the change events from a logical slot
start_cluster "shared_preload_libraries = 'pg_stat_statements'" \
	"pg_stat_statements.track = all" "wal_level = logical"

LOG_DIR=$(mktemp -d /tmp/enrollment-test.XXXXXX)
passed=0
failed=0

tally() {		# tally SUITE PASSED FAILED
	echo "== $1: $2 passed, $3 failed"
	passed=$((passed + $2))
	failed=$((failed + $3))
}

# pg_regress and the isolation tester print one line per test: on 15,
# "test NAME ... ok" or "... FAILED"; from 16 on, TAP lines "ok N - NAME"
# or "not ok N - NAME" ("+" in place of "-" in a parallel group)
REGRESS_PASSED='^(test .* \.\.\. ok|ok [0-9]+ +[-+] )'
REGRESS_FAILED='^(test .* \.\.\. (FAILED|failed)|not ok [0-9]+ +[-+] )'
count_regress() {	# count_regress LOG -> "PASSED FAILED"
	echo "$(grep -cE "$REGRESS_PASSED" "$1" || true)" \
		"$(grep -cE "$REGRESS_FAILED" "$1" || true)"
}

# TAP lines: "ok N" and "not ok N"
count_tap() {		# count_tap LOG -> "PASSED FAILED"
	echo "$(grep -cE '^ *ok [0-9]' "$1" || true)" \
		"$(grep -cE '^ *not ok [0-9]' "$1" || true)"
}

# run_sql_suites ACCESS: pg_regress, the isolation tester and pgTAP, with
# enrollment.table_access = ACCESS in every session
run_sql_suites() {
	local access=$1 status=0 shown
	export PGOPTIONS="-c enrollment.table_access=$access"

	# the setting took: a session sees it once the library is loaded
	shown=$(psql -X -q -t -A -c "LOAD 'enrollment'" -c "SHOW enrollment.table_access")
	if [ "$shown" = "$access" ]; then
		tally "enrollment.table_access = $access" 1 0
	else
		echo "sessions run with enrollment.table_access = '$shown', not '$access'"
		tally "enrollment.table_access = $access" 0 1
	fi

	echo "== pg_regress ($access)"
	rm -rf results output_iso regression.diffs regression.out
	make -s installcheck ISOLATION= >"$LOG_DIR/regress.log" 2>&1 || true
	grep -E "$REGRESS_PASSED|$REGRESS_FAILED" "$LOG_DIR/regress.log" ||
		cat "$LOG_DIR/regress.log"
	[ -f regression.diffs ] && head -200 regression.diffs
	read -r p f < <(count_regress "$LOG_DIR/regress.log")
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1		# the suite did not run at all
	tally "pg_regress ($access)" "$p" "$f"

	echo "== isolation ($access)"
	make -s installcheck REGRESS= >"$LOG_DIR/isolation.log" 2>&1 || true
	grep -E "$REGRESS_PASSED|$REGRESS_FAILED" "$LOG_DIR/isolation.log" ||
		cat "$LOG_DIR/isolation.log"
	[ -f output_iso/regression.diffs ] && head -200 output_iso/regression.diffs
	read -r p f < <(count_regress "$LOG_DIR/isolation.log")
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
	tally "isolation ($access)" "$p" "$f"

	echo "== pgTAP ($access)"
	createdb enrollment_tap
	psql -X -q -d enrollment_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION enrollment"
	pg_prove -v -d enrollment_tap test/pgtap/*.sql >"$LOG_DIR/pgtap.log" 2>&1 || status=$?
	grep -vE '^ *ok [0-9]' "$LOG_DIR/pgtap.log" || true
	read -r p f < <(count_tap "$LOG_DIR/pgtap.log")
	[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1	# a file died without a "not ok"
	tally "pgTAP ($access)" "$p" "$f"
	dropdb enrollment_tap
	unset PGOPTIONS
}

run_sql_suites auto
run_sql_suites sql

# run_tap_suite NAME COMMAND...: a shell test that prints TAP lines
run_tap_suite() {
	local name=$1 status=0
	shift
	echo "== $name"
	"$@" >"$LOG_DIR/$name.log" 2>&1 || status=$?
	cat "$LOG_DIR/$name.log"
	read -r p f < <(count_tap "$LOG_DIR/$name.log")
	[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1	# it died before a "not ok"
	tally "$name" "$p" "$f"
}

# the shell tests again on the SQL path
on_sql_path=(env PGOPTIONS="-c enrollment.table_access=sql")

run_tap_suite install_script bash test/install_script.sh
run_tap_suite concurrency bash test/concurrency.sh
run_tap_suite concurrency_sql "${on_sql_path[@]}" bash test/concurrency.sh
run_tap_suite fuzz bash test/fuzz.sh
run_tap_suite fuzz_sql "${on_sql_path[@]}" bash test/fuzz.sh
run_tap_suite dump_restore bash test/dump_restore.sh
if [ ${#other_majors[@]} -gt 0 ]; then
	DUMP_DIR=$LOG_DIR/dump
	run_tap_suite dump_for_later_majors bash test/dump_restore.sh --dump "$DUMP_DIR"
fi
run_tap_suite upgrade bash test/upgrade.sh
run_tap_suite fault bash test/fault/fault.sh
run_tap_suite fault_sql "${on_sql_path[@]}" bash test/fault/fault.sh
run_tap_suite stream bash test/fault/stream.sh
run_tap_suite stream_sql "${on_sql_path[@]}" bash test/fault/stream.sh
run_tap_suite failover bash test/fault/failover.sh
run_tap_suite citus bash test/citus.sh	# skips itself without Citus
run_tap_suite docs bash test/docs.sh
run_tap_suite recipes bash test/recipes.sh

if grep -q 'terminated by signal' "$CLUSTER_DIR/server.log"; then
	echo "== the server log shows a crashed backend:"
	grep -B2 -A5 'terminated by signal' "$CLUSTER_DIR/server.log"
	failed=$((failed + 1))
fi

echo "== PostgreSQL $PG_VERSION (this machine): $passed passed, $failed failed"
stop_cluster

if $HOST_ONLY; then
	:
elif [ ${#other_majors[@]} -gt 0 ]; then
	run_matrix "$DUMP_DIR" "${other_majors[@]}"
	passed=$((passed + MATRIX_PASSED))
	failed=$((failed + MATRIX_FAILED))
else
	echo "== the other majors run in Debian roots, which need root: not run"
	failed=$((failed + 1))
fi

rm -rf "$LOG_DIR"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
