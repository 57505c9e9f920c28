#!/usr/bin/env bash
# test/recipes.sh: the three programs of docs/retries.md, pay.py (psycopg
# 3), pay.js (node-postgres) and Pay.java (JDBC), taken from the page itself
# (the blocks that <!-- file: NAME --> precedes) and run as documented, as a
# role that may pay, on a throwaway server of its own.  For each program:
#   - its map holds the SQLSTATEs of the errors table of docs/reference.md,
#     no more, no less, and retries those that the table says to retry,
#     no others (Pay.java's map is read by a small caller compiled with it);
#   - a payment prints its result with the amounts as strings; the same
#     call again replays it and changes nothing;
#   - refusals (23E03, 23E02, 22E01, 23E04, 55E01, 22E03, 42501, and 22004
#     through pay() itself, which the command line cannot express: for
#     Pay.java through that small caller) print their application error,
#     exit with status 1 and change nothing;
#   - a backend terminated while the payment waits for a row lock: the
#     program retries and pays once;
#   - a wait for a synchronous standby cancelled after the commit: the
#     program retries, and the replay (which waits for the standby in turn)
#     answers with replayed = true;
#   - a server that does not answer: outcome_unknown, exit status 2.
# Installs python3-psycopg, nodejs, npm, default-jdk-headless and
# libpostgresql-jdbc-java if missing, and pg@8 from the npm registry into
# its own work folder.  Needs the extension installed
# (scripts/test.sh builds and installs it first; by hand, `make -s install`
# before).  Prints TAP lines; the exit status is non-zero if a check failed.
source "$(dirname "$0")/fault/common.sh"

PYTHON=/usr/bin/python3	# Debian's, which has the python3-* packages
DB=recipes
JDBC_JAR=/usr/share/java/postgresql.jar	# libpostgresql-jdbc-java

# what gets installed is said as diagnostics: stdout holds TAP lines only
{
	install_missing python3-psycopg
	command -v node >/dev/null || install_missing nodejs
	command -v npm >/dev/null || install_missing npm
	# Pay.java runs from its source, which takes a JDK, not just a java runtime
	command -v java >/dev/null && command -v javac >/dev/null ||
		install_missing default-jdk-headless
	[ -f "$JDBC_JAR" ] || install_missing libpostgresql-jdbc-java
} | sed 's/^/# /'
npm_status=0
npm install --prefix "$WORK" --no-save --no-audit --no-fund --no-package-lock \
	--silent pg@8 >"$WORK/npm.log" 2>&1 || npm_status=$?
tap "$([ "$npm_status" -eq 0 ] && [ -f "$WORK/node_modules/pg/package.json" ] && echo t)" \
	"npm installed pg@8 (exit status $npm_status)"
[ "$npm_status" -eq 0 ] || sed 's/^/# /' "$WORK/npm.log"

"$PYTHON" test/docs.py files docs/retries.md "$WORK"
tap "$([ -s "$WORK/pay.py" ] && [ -s "$WORK/pay.js" ] && [ -s "$WORK/Pay.java" ] && echo t)" \
	"docs/retries.md holds pay.py, pay.js and Pay.java"

# Pay.java's map and its pay() with a NULL amount: through Probe, a caller
# compiled with it (java -cp "$WORK/classes:$JDBC_JAR" Probe map|null ...)
cat >"$WORK/Probe.java" <<-'EOF'
	public class Probe {
	    public static void main(String[] args) throws Exception {
	        if (args[0].equals("map")) {
	            Pay.ERRORS.forEach((code, app) ->
	                System.out.println(code + " " + (app.retryable() ? "retry" : "final")));
	            return;
	        }
	        try {
	            Pay.pay(args[1], args[2], "math", null, "order-8", 8);
	            System.out.println("paid");
	        } catch (Pay.PaymentError e) {
	            System.out.println(e.error + " " + e.sqlstate + " " + e.attempts);
	        }
	    }
	}
	EOF
javac_status=0
javac -d "$WORK/classes" -cp "$JDBC_JAR" "$WORK/Pay.java" "$WORK/Probe.java" \
	>"$WORK/javac.log" 2>&1 || javac_status=$?
tap "$([ "$javac_status" -eq 0 ] && echo t)" "javac compiled Pay.java with a caller (exit status $javac_status)"
sed 's/^/# /' "$WORK/javac.log"

# "CODE retry|final" for every SQLSTATE of the errors table ("08" for the
# class, "none" for a lost connection; "both" where two rows differ)
"$PYTHON" test/docs.py errors-table 2>"$WORK/table.log" | LC_ALL=C sort >"$WORK/table.codes" || true
sed 's/^/# /' "$WORK/table.log"
tap "$([ "$(wc -l <"$WORK/table.codes")" -ge 40 ] && echo t)" \
	"the errors table of docs/reference.md lists $(wc -l <"$WORK/table.codes") SQLSTATEs"

# program_codes py|js|java: "CODE retry|final" for every entry of the program's map
program_codes() {
	case $1 in
	py) "$PYTHON" -c '
import sys
sys.path.insert(0, sys.argv[1])
import pay
for code, (error, retry, message) in pay.ERRORS.items():
    print(code, "retry" if retry else "final")' "$WORK" ;;
	js) node -e '
for (const [code, [error, retry, message]] of Object.entries(require(process.argv[1]).ERRORS))
  console.log(code, retry ? "retry" : "final");' "$WORK/pay.js" ;;
	java) java -cp "$WORK/classes:$JDBC_JAR" Probe map ;;
	esac | LC_ALL=C sort
}

# run py|js|java ARG...: the program with that command line; its output in
# $WORK/out and $WORK/err, its exit status in STATUS
run() {
	local lang=$1
	shift
	STATUS=0
	case $lang in
	py) "$PYTHON" "$WORK/pay.py" "$@" ;;
	js) node "$WORK/pay.js" "$@" ;;
	java) java -cp "$JDBC_JAR" "$WORK/Pay.java" "$@" ;;
	esac >"$WORK/out" 2>"$WORK/err" || STATUS=$?
}

# check RESULT DESCRIPTION: a TAP line; if it failed, the program's last
# output as diagnostics
check() {
	tap "$1" "$2"
	[ "$1" = t ] || sed 's/^/# /' "$WORK/out" "$WORK/err"
}

# json_is KEY=VALUE...: t when $WORK/out is one line of JSON with those
# values (a string as it is, any other value as JSON: true, null, 2)
json_is() {
	"$PYTHON" - "$WORK/out" "$@" <<-'EOF'
	import json, sys
	lines = open(sys.argv[1]).read().split("\n")
	try:
	    d = json.loads(lines[0]) if len(lines) == 2 and lines[1] == "" else {}
	except ValueError:
	    d = {}
	text = lambda v: v if isinstance(v, str) else json.dumps(v)
	pairs = [a.split("=", 1) for a in sys.argv[2:]]
	print("t" if d and all(k in d and text(d[k]) == v for k, v in pairs) else "f")
	EOF
}

json_get() {	# json_get KEY: that value of $WORK/out
	"$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$WORK/out" "$1" 2>/dev/null || true
}

q() { sql "$PORT" "$DB" "$1"; }

# both tables, to show that a refusal changed nothing
tables() {
	q "SELECT md5(string_agg(r, E'\n' ORDER BY r))
	     FROM (SELECT e::text AS r FROM enrollment.enrollments e
	           UNION ALL SELECT p::text FROM enrollment.payments p) t"
}

ledger_rows() {	# ledger_rows USER_ID KEY
	q "SELECT count(*) FROM enrollment.payments
	    WHERE user_id = '$1' AND idempotency_key = '$2'"
}

# wait_for_backend CONDITION: the pid of the program's backend once one
# matches the condition on pg_stat_activity (30 s at most)
wait_for_backend() {
	local i pid
	for i in $(seq 300); do
		pid=$(q "SELECT pid FROM pg_stat_activity
		          WHERE application_name = 'enrollment-pay' AND $1 LIMIT 1")
		[ -n "$pid" ] && echo "$pid" && return
		sleep 0.1
	done
	return 1
}

# start_program py|js|java ARG...: run in the background; wait_program waits
# for it and sets STATUS
start_program() {
	rm -f "$WORK/status"
	(run "$@"; echo "$STATUS" >"$WORK/status") &
	PROGRAM_PID=$!
}
wait_program() {
	wait "$PROGRAM_PID" || true
	STATUS=$(cat "$WORK/status")
}

new_server recipes
start_server "$WORK/recipes"
PORT=$(server_port "$WORK/recipes")
createdb -p "$PORT" "$DB"
q "CREATE EXTENSION enrollment"
# a role with what paying needs, and a role without it
q "CREATE ROLE app LOGIN;
	GRANT USAGE ON SCHEMA enrollment TO app;
	GRANT EXECUTE ON FUNCTION enrollment.apply_payment(text, text, numeric, text) TO app;
	CREATE ROLE stranger LOGIN"
URI=postgresql://app@127.0.0.1:$PORT/$DB
for lang in py js java; do
	q "SELECT enrollment.enroll('$lang-pay', 'math', 100.00);
	   SELECT enrollment.enroll('$lang-paid', 'math', 10);
	   SELECT enrollment.apply_payment('$lang-paid', 'math', 10);
	   SELECT enrollment.enroll('$lang-locked', 'math', 100);
	   SELECT enrollment.enroll('$lang-syncrep', 'math', 100)" >/dev/null
done

# refused py|js|java ERROR SQLSTATE WHAT ARG...: the command line ARG... is
# refused with that error, exit status 1, and nothing changed
refused() {
	local lang=$1 error=$2 sqlstate=$3 what=$4 before
	shift 4
	before=$(tables)
	run "$lang" "$@"
	check "$([ "$STATUS" -eq 1 ] && [ "$(tables)" = "$before" ] &&
		json_is ok=false error="$error" sqlstate="$sqlstate" attempts=1 | grep -qx t && echo t)" \
		"$name: $what: $error ($sqlstate), exit status 1, nothing changed"
}

for lang in py js java; do
	name=$([ "$lang" = java ] && echo Pay.java || echo "pay.$lang")
	echo "# $name"

	program_codes "$lang" >"$WORK/program.codes" || true
	tap "$([ -s "$WORK/program.codes" ] && cmp -s <(cut -d ' ' -f 1 "$WORK/table.codes") \
		<(cut -d ' ' -f 1 "$WORK/program.codes") && echo t)" \
		"$name: its map holds every SQLSTATE of the errors table and no other"
	diff <(cut -d ' ' -f 1 "$WORK/table.codes") <(cut -d ' ' -f 1 "$WORK/program.codes") |
		sed -n 's/^< /# only in the table: /p; s/^> /# only in the program: /p' || true
	tap "$([ -s "$WORK/program.codes" ] && cmp -s "$WORK/table.codes" "$WORK/program.codes" && echo t)" \
		"$name: it retries the SQLSTATEs that the table says to retry, and no others"
	diff "$WORK/table.codes" "$WORK/program.codes" | sed -n 's/^< /# the table says: /p; s/^> /# the program says: /p' || true

	run "$lang" "$URI" "$lang-pay" math 20.00 order-1
	check "$([ "$STATUS" -eq 0 ] && json_is ok=true amount=20.00 amount_paid=20.00 \
		amount_due=80.00 status=partial replayed=false attempts=1 | grep -qx t && echo t)" \
		"$name: a payment prints its result, amounts as the server prints them"
	first_id=$(json_get payment_id)

	run "$lang" "$URI" "$lang-pay" math 20.00 order-1
	check "$([ "$STATUS" -eq 0 ] && [ -n "$first_id" ] &&
		json_is ok=true payment_id="$first_id" amount=20.00 amount_paid=20.00 \
		amount_due=80.00 replayed=true | grep -qx t &&
		[ "$(q "SELECT amount_paid FROM enrollment.enrollments WHERE user_id = '$lang-pay'")" = 20.00 ] &&
		[ "$(ledger_rows "$lang-pay" order-1)" = 1 ] && echo t)" \
		"$name: the same call again replays the first result and changes nothing"

	refused "$lang" overpayment 23E03 "more than the amount due" "$URI" "$lang-pay" math 500 order-2
	refused "$lang" unknown_enrollment 23E02 "an unknown enrollment" "$URI" "$lang-nobody" math 10 order-3
	refused "$lang" invalid_amount 22E01 "three decimals in USD" "$URI" "$lang-pay" math 10.005 order-4
	refused "$lang" key_reused 23E04 "a key used with another amount" "$URI" "$lang-pay" math 30 order-1
	refused "$lang" already_paid 55E01 "a paid enrollment" "$URI" "$lang-paid" math 5 order-5
	refused "$lang" invalid_id 22E03 "an empty course_id" "$URI" "$lang-pay" "" 10 order-6
	refused "$lang" not_allowed 42501 "a role without the grants" \
		"postgresql://stranger@127.0.0.1:$PORT/$DB" "$lang-pay" math 10 order-7

	# a NULL amount: through pay() itself
	before=$(tables)
	case $lang in
	py) "$PYTHON" -c '
import sys
sys.path.insert(0, sys.argv[1])
import pay
try:
    pay.pay(sys.argv[2], sys.argv[3], "math", None, "order-8")
    print("paid")
except pay.PaymentError as e:
    print(e.error, e.sqlstate, e.attempts)' "$WORK" "$URI" "$lang-pay" ;;
	js) node -e '
require(process.argv[1]).pay(process.argv[2], process.argv[3], "math", null, "order-8")
  .then(() => console.log("paid"), (e) => console.log(e.error, e.sqlstate, e.attempts));' \
		"$WORK/pay.js" "$URI" "$lang-pay" ;;
	java) java -cp "$WORK/classes:$JDBC_JAR" Probe null "$URI" "$lang-pay" ;;
	esac >"$WORK/out" 2>"$WORK/err" || true
	check "$([ "$(cat "$WORK/out")" = "null_argument 22004 1" ] && [ "$(tables)" = "$before" ] && echo t)" \
		"$name: pay() with a NULL amount: null_argument (22004), nothing changed"

	# a backend terminated while it waits for the enrollment's row lock,
	# which another session holds; then the lock is released
	psql -X -q -p "$PORT" -d "dbname=$DB application_name=recipes-lock" >/dev/null 2>&1 <<-EOF &
		BEGIN;
		SELECT 1 FROM enrollment.enrollments WHERE user_id = '$lang-locked' FOR UPDATE;
		SELECT pg_sleep(60);
	EOF
	HOLDER_PID=$!
	poll "$PORT" "$DB" "SELECT count(*) = 1 FROM pg_stat_activity
	                    WHERE application_name = 'recipes-lock' AND wait_event = 'PgSleep'" || true
	start_program "$lang" "$URI" "$lang-locked" math 25.00 order-9
	terminated=f
	if pid=$(wait_for_backend "wait_event_type = 'Lock'"); then
		terminated=$(q "SELECT pg_terminate_backend($pid)")
	fi
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE application_name = 'recipes-lock'" >/dev/null
	wait "$HOLDER_PID" || true
	wait_program
	check "$([ "$terminated" = t ] && [ "$STATUS" -eq 0 ] &&
		json_is ok=true amount=25.00 amount_paid=25.00 replayed=false | grep -qx t &&
		[ "$(json_get attempts)" -ge 2 ] &&
		grep -qE '^retry 2 of [0-9]+ after (57P01|a lost connection)' "$WORK/err" &&
		[ "$(ledger_rows "$lang-locked" order-9)" = 1 ] &&
		[ "$(q "SELECT amount_paid FROM enrollment.enrollments WHERE user_id = '$lang-locked'")" = 25.00 ] &&
		echo t)" \
		"$name: its backend terminated while waiting for the row lock: it retried and paid once ($(json_get attempts) attempts)"
	sed -n 's/^retry/# retry/p' "$WORK/err"

	# a synchronous standby that never comes: the payment commits and
	# waits; that wait is cancelled (a WARNING, the payment committed); the
	# retry's replay waits for the standby in turn, until the setting goes
	q "ALTER SYSTEM SET synchronous_standby_names = 'nowhere'" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	# a probe: a transaction that writes, whose commit waits once the
	# server has the setting
	psql -X -q -p "$PORT" -d "dbname=$DB application_name=recipes-probe" \
		-c "CREATE TEMP TABLE probe ()" >/dev/null 2>&1 &
	PROBE_PID=$!
	poll "$PORT" "$DB" "SELECT count(pg_cancel_backend(pid)) = 1 FROM pg_stat_activity
	                    WHERE application_name = 'recipes-probe' AND wait_event = 'SyncRep'" || true
	wait "$PROBE_PID" || true
	start_program "$lang" "$URI" "$lang-syncrep" math 30.00 order-10
	cancelled=f
	replay_waited=f
	if pid=$(wait_for_backend "wait_event = 'SyncRep'"); then
		cancelled=$(q "SELECT pg_cancel_backend($pid)")
		wait_for_backend "wait_event = 'SyncRep' AND pid <> $pid" >/dev/null && replay_waited=t
	fi
	q "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	wait_program
	check "$([ "$cancelled" = t ] && [ "$replay_waited" = t ] && [ "$STATUS" -eq 0 ] &&
		json_is ok=true amount=30.00 amount_paid=30.00 replayed=true attempts=2 | grep -qx t &&
		grep -q '^retry 2 of [0-9]* after WARNING canceling wait for synchronous replication' "$WORK/err" &&
		[ "$(ledger_rows "$lang-syncrep" order-10)" = 1 ] && echo t)" \
		"$name: a cancelled wait for the standby: it retried, and the replay answered once the standby's wait was over"

	# nothing listens at that port
	PAY_ATTEMPTS=3 run "$lang" "postgresql://app@127.0.0.1:$(free_port)/$DB" "$lang-pay" math 10 order-11
	check "$([ "$STATUS" -eq 2 ] && json_is ok=false error=outcome_unknown sqlstate=null attempts=3 | grep -qx t &&
		[ "$(grep -c '^retry' "$WORK/err")" -eq 2 ] && echo t)" \
		"$name: no server: outcome_unknown after PAY_ATTEMPTS=3 attempts, exit status 2"
done

tap "$(q "SELECT count(*) = 0 FROM enrollment.verify()")" "enrollment.verify() finds nothing"
tap_done
