#!/usr/bin/env bash
# scripts/valgrind.sh: the pg_regress suite (the Makefile's REGRESS tests)
# against a throwaway server whose every process runs under valgrind
# memcheck.  Prints each error report with a frame in the extension
# (enrollment.so, or one of the src/*.c files when it has debug symbols)
# and ends with the line
#   valgrind: N errors in enrollment.so, M other reports
# The exit status is non-zero if N > 0 or the suite failed.  The other
# reports come from PostgreSQL itself; scripts/valgrind.supp suppresses the
# known ones, and unknown ones are kept with the logs for a look.
# Debian's PostgreSQL is not built with valgrind annotations: reads past a
# palloc() chunk or after its pfree() go unseen, and uninitialised bytes
# are seen only in memory fresh from malloc() or on the stack.
#
# Installs what is missing (valgrind too), builds and installs the extension
# (set SKIP_BUILD=1 to check the installed build as it is), and takes about
# 9 minutes on 2 cores, most of them in the bad_input and lifecycle tests.
source "$(dirname "$0")/lib.sh"

ensure_packages valgrind
[ "${SKIP_BUILD:-}" = 1 ] || build_and_install

# A throwaway cluster from lib.sh, restarted with postgres under valgrind.
start_cluster
as_cluster_owner pg_ctl -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null
VALGRIND_DIR=$CLUSTER_DIR/valgrind
as_cluster_owner mkdir "$VALGRIND_DIR"
cp scripts/valgrind.supp "$CLUSTER_DIR/valgrind.supp"
cat >"$CLUSTER_DIR/postgres" <<EOF
#!/bin/sh
exec valgrind --quiet --trace-children=yes --leak-check=no --track-origins=yes \\
	--num-callers=40 --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END \\
	--suppressions=$CLUSTER_DIR/valgrind.supp --gen-suppressions=all \\
	--log-file=$VALGRIND_DIR/%p.log $PG_BIN/postgres "\$@"
EOF
chmod 755 "$CLUSTER_DIR/postgres"
started=$(date +%s)
as_cluster_owner pg_ctl -D "$CLUSTER_DIR/data" -p "$CLUSTER_DIR/postgres" \
	-l "$CLUSTER_DIR/server.log" -w -t 600 start >/dev/null

# The REGRESS list of the Makefile, continuation lines included.
tests=$(sed -n '/^REGRESS *=/,/[^\\]$/p' Makefile | sed 's/^REGRESS *=//; s/\\$//')
KEEP_DIR=$(mktemp -d /tmp/enrollment-valgrind.XXXXXX)
status=0
"$(dirname "$($PG_CONFIG --pgxs)")/../test/regress/pg_regress" \
	--inputdir=. --outputdir="$KEEP_DIR" --bindir="$PG_BIN" \
	--dbname=contrib_regression $tests || status=$?
[ -f "$KEEP_DIR/regression.diffs" ] && head -100 "$KEEP_DIR/regression.diffs"
as_cluster_owner pg_ctl -D "$CLUSTER_DIR/data" -m fast -w -t 600 stop >/dev/null
echo "suite and server under valgrind: $(($(date +%s) - started)) s"

# Split the logs into error reports.  Ours have a frame of the extension in
# their stack or in the origin of an uninitialised value.  WAL pages reach
# the disk with the padding bytes of PostgreSQL's own records (its
# padding_XLogRecData_write suppression); those are counted apart, and only
# when the bytes did not come from the extension, which a suppression
# could not tell.
ours_pattern="enrollment\\.so|\\(($(cd src && ls ./*.c | sed 's|^\./||; s/\.c$//' | paste -sd '|'))\\.c:[0-9]+\\)"
cat "$VALGRIND_DIR"/*.log | ours=$ours_pattern awk -v dir="$KEEP_DIR" '
	/VALGRINDERROR-BEGIN/ { report = ""; inside = 1; next }
	/VALGRINDERROR-END/ {
		inside = 0
		if (report ~ ENVIRON["ours"])
			kind = "ours"
		else if (report ~ /pwrite64\(buf\)/ && report ~ /: XLog[A-Za-z]*Flush /)
			kind = "wal"
		else
			kind = "others"
		printf "%s\n", report >> (dir "/" kind ".txt")
		next
	}
	inside { report = report $0 "\n" }'
reports() { if [ -f "$KEEP_DIR/$1.txt" ]; then grep -c '^$' "$KEEP_DIR/$1.txt"; else echo 0; fi; }
n=$(reports ours)
m=$(reports others)
[ "$n" -gt 0 ] && cat "$KEEP_DIR/ours.txt"
if [ "$n" -gt 0 ] || [ "$m" -gt 0 ] || [ "$status" -ne 0 ]; then
	cp -r "$VALGRIND_DIR" "$CLUSTER_DIR/server.log" "$KEEP_DIR/"
	echo "logs, reports and pg_regress output kept in $KEEP_DIR"
else
	rm -rf "$KEEP_DIR"
fi
[ "$status" -eq 0 ] || echo "pg_regress failed under valgrind"
echo "valgrind: $n errors in enrollment.so, $m other reports" \
	"($(reports wal) WAL padding writes of PostgreSQL's own not counted)"
[ "$n" -eq 0 ] && [ "$status" -eq 0 ]
