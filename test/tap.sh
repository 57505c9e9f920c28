# test/tap.sh: TAP lines for the shell tests; source it.
#   tap RESULT DESCRIPTION   prints "ok N - DESCRIPTION" when RESULT is t,
#                            else "not ok N - DESCRIPTION"
#   tap_done                 prints the plan "1..N"; succeeds when every
#                            check passed.  End with it.
TAP_CHECKS=0
TAP_FAILURES=0

tap() {
	TAP_CHECKS=$((TAP_CHECKS + 1))
	if [ "$1" = t ]; then
		echo "ok $TAP_CHECKS - $2"
	else
		echo "not ok $TAP_CHECKS - $2"
		TAP_FAILURES=$((TAP_FAILURES + 1))
	fi
}

tap_done() {
	echo "1..$TAP_CHECKS"
	[ "$TAP_FAILURES" -eq 0 ]
}
