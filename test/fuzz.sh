#!/usr/bin/env bash
# test/fuzz.sh: calls every function that writes (enroll(), apply_payment(),
# pay_remaining_balance(), apply_payments(), refund_payment(),
# cancel_enrollment(), change_price(), import_enrollment()) FUZZ_CALLS times
# (default 5000) with arguments drawn at random from pools of valid and
# nasty values (NULL, NaN, infinities, huge, tiny and negative amounts, too
# many decimals, unknown currencies, empty, over-long, padded and
# control-character ids, unicode, over-long reasons, infinite times, JSON
# batches of odd shapes), each call in its own subtransaction and
# transaction, and records the SQLSTATE of each.  Then it checks that the
# backend survived, that every SQLSTATE is one docs/reference.md documents for bad
# input, that some calls of each function succeeded, and that every
# enrollment still agrees with the ledger.  SEED (printed) replays the same calls.  Needs a running server
# (PGHOST etc.) with the extension installed; creates and drops its own
# database; prints one TAP line per check.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_CALLS=${FUZZ_CALLS:-5000}
SEED=${SEED:-$(( (RANDOM << 15 | RANDOM) % 2147483647 ))}
DB=enrollment_fuzz
# the SQLSTATEs of the errors table (docs/reference.md) that a call can raise from
# its arguments alone; the others (42501, 25006, 55P03, 40001, 40P01,
# 23E05, 0A000, 55P04) need other roles, read-only transactions,
# concurrent sessions, direct writes, version 1.0 or an update in progress,
# and count as failures here
DOCUMENTED="'22004', '22008', '22E01', '22E02', '22E03', '22E04', '23E01', '23E02', '23E03', '23E04', '23E06', '23E07', '55E01', '55E02', '55E03', '55E04', '55E05'"
source test/tap.sh

sql() { psql -X -q -t -A -d "$DB" -v ON_ERROR_STOP=1 -c "$1"; }

echo "# SEED=$SEED FUZZ_CALLS=$FUZZ_CALLS"
dropdb --if-exists "$DB" 2>/dev/null
createdb "$DB"
psql -X -q -d "$DB" -v ON_ERROR_STOP=1 >/dev/null <<'EOF'
CREATE EXTENSION enrollment;

-- one call per row: its text, its SQLSTATE (00000: it succeeded), the
-- ledger rows it reported as new (not replayed) and the sum of their amounts
CREATE TABLE fuzz_log (
	n int PRIMARY KEY,
	function text NOT NULL,
	call text NOT NULL,
	sqlstate text NOT NULL,
	payments int NOT NULL,
	paid numeric NOT NULL
);

-- ten enrollments to pay from the first call on
SELECT enrollment.enroll('u' || i, 'c0', 100000,
                         (ARRAY['USD', 'JPY', 'BHD', 'CLF'])[i % 4 + 1])
  FROM generate_series(0, 9) i;

CREATE FUNCTION pick(anyarray) RETURNS anyelement LANGUAGE sql AS $$
	SELECT $1[1 + floor(random() * cardinality($1))::int]
$$;

CREATE FUNCTION chance(p float8) RETURNS boolean LANGUAGE sql AS $$
	SELECT random() < p
$$;

-- The generators below draw a bad value with probability "bad", else a
-- valid one.

-- a user_id (u0 to u9) or a course_id (c0 to c29)
CREATE FUNCTION fuzz_id(prefix text, bad float8) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN chance(bad)
	       THEN pick(ARRAY[NULL, '', ' ', ' ' || prefix || '1', prefix || '1 ',
	                       upper(prefix) || '1', E'u\t1', E'c\n1', E'\x01', E'x\x7F',
	                       E'\u0085', E'x\u009F', 'ü-ß-日本語', '😀', E'\u00A0x',
	                       repeat('x', 255), repeat('x', 256), repeat('é', 255),
	                       repeat('€', 256), $q$'; DROP TABLE fuzz_log; --$q$,
	                       '%s', '\', 'NULL'])
	       ELSE prefix || floor(random() * CASE prefix WHEN 'u' THEN 10 ELSE 30 END)
	       END
$$;

-- an amount; a valid one may still have too many decimals for JPY
CREATE FUNCTION fuzz_amount(bad float8) RETURNS numeric LANGUAGE sql AS $$
	SELECT CASE WHEN chance(bad)
	       THEN pick(ARRAY[NULL, 0, '-0.00', -0.01, -1, 'NaN', 'Infinity',
	                       '-Infinity', 1000000000000.01, 1e13, 1e100, 1e1000,
	                       1e-100, 0.001, 0.0001, 0.00001, 10.005,
	                       99999999999999999999.99]::numeric[])
	       WHEN chance(0.5)
	       THEN round((random() * 100)::numeric, floor(random() * 3)::int)
	       ELSE pick(ARRAY[0.01, 0.5, 1, 5, 10, 25, 100, 1000, 1e12]::numeric[])
	       END
$$;

CREATE FUNCTION fuzz_currency(bad float8) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN chance(bad)
	       THEN pick(ARRAY[NULL, '', 'usd', 'XXX', 'US', 'USDX', ' USD', 'ÜSD', E'US\n'])
	       ELSE pick(ARRAY['USD', 'JPY', 'BHD', 'KWD', 'CLF', 'EUR'])
	       END
$$;

-- an idempotency key: none, or one of a hundred per user (so that keys
-- are reused: replays and conflicts)
CREATE FUNCTION fuzz_key(bad float8) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN chance(bad)
	       THEN pick(ARRAY['', ' k', 'k ', repeat('k', 256), E'k\x01', E'k\r', E'\u009B'])
	       WHEN chance(0.4) THEN NULL
	       ELSE pick(ARRAY['k', 'ключ-', repeat('€', 253)]) || floor(random() * 100)
	       END
$$;

-- the reason of a refund, cancellation or price change
CREATE FUNCTION fuzz_reason(bad float8) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN chance(bad) THEN pick(ARRAY[repeat('r', 1001), repeat('€', 1001)])
	       ELSE pick(ARRAY[NULL, '', 'coupon', E'multi\nline', repeat('€', 1000)])
	       END
$$;

-- enrolled_at of an import
CREATE FUNCTION fuzz_time(bad float8) RETURNS timestamptz LANGUAGE sql AS $$
	SELECT CASE WHEN chance(bad) THEN pick(ARRAY['infinity', '-infinity']::timestamptz[])
	       ELSE pick(ARRAY[NULL, '2020-02-29 12:00+00', '1999-12-31 23:59:59.999999+00',
	                       '2100-01-01 00:00+00']::timestamptz[])
	       END
$$;

-- expected_amount: none, the amount due right now, or any amount
CREATE FUNCTION fuzz_expected(u text, c text, bad float8) RETURNS numeric
LANGUAGE sql AS $$
	SELECT CASE floor(random() * 3)
	       WHEN 0 THEN NULL
	       WHEN 1 THEN (SELECT amount_due FROM enrollment.enrollments
	                     WHERE user_id = u AND course_id = c)
	       ELSE fuzz_amount(bad)
	       END
$$;

-- one item of a batch: a payment object, or one with a missing, extra or
-- mistyped key, or not an object at all
CREATE FUNCTION fuzz_item(bad float8) RETURNS jsonb LANGUAGE sql AS $$
	SELECT CASE WHEN NOT chance(bad) THEN item
	       ELSE pick(ARRAY[
	                 item - pick(ARRAY['user_id', 'course_id', 'amount']),
	                 item || '{"note": "x"}',
	                 item || jsonb_build_object(
	                     pick(ARRAY['user_id', 'course_id', 'amount', 'idempotency_key']),
	                     pick(ARRAY['7', '"7"', 'null', 'false', '[]', '{}']::jsonb[])),
	                 pick(ARRAY['null', '1', '"x"', '[]', '{}', 'true']::jsonb[])])
	       END
	  FROM (SELECT jsonb_strip_nulls(jsonb_build_object(
	                   'user_id', fuzz_id('u', bad), 'course_id', fuzz_id('c', bad),
	                   'amount', fuzz_amount(bad), 'idempotency_key', fuzz_key(bad)))) i (item)
$$;

-- a batch of 1 to 3 items, or another JSON value, or one item too many
CREATE FUNCTION fuzz_batch(bad float8) RETURNS jsonb LANGUAGE sql AS $$
	SELECT CASE WHEN chance(bad / 3)
	            THEN pick(ARRAY[NULL, '[]', '{}', 'null', '1', '"[]"', '[[]]', '[null]',
	                            '{"user_id": "u1", "course_id": "c0", "amount": 1}']::jsonb[])
	            WHEN chance(bad / 100)
	            THEN (SELECT jsonb_agg('{"user_id": "u1", "course_id": "c0", "amount": 0.01}'::jsonb)
	                    FROM generate_series(1, 10001))
	            ELSE (SELECT jsonb_agg(fuzz_item(bad))
	                    FROM generate_series(1, 1 + floor(random() * 3)::int))
	       END
$$;

-- the text of one random call
CREATE FUNCTION fuzz_call(function text, bad float8) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	u text := fuzz_id('u', bad);
	c text := fuzz_id('c', bad);
BEGIN
	RETURN CASE function
		WHEN 'enroll' THEN format('enrollment.enroll(%L, %L, %L::numeric, %L)',
		                          u, c, fuzz_amount(bad), fuzz_currency(bad))
		WHEN 'apply_payment' THEN format('enrollment.apply_payment(%L, %L, %L::numeric, %L)',
		                                 u, c, fuzz_amount(bad), fuzz_key(bad))
		WHEN 'pay_remaining_balance' THEN format(
			'enrollment.pay_remaining_balance(%L, %L, %L, %L::numeric)',
			u, c, fuzz_key(bad), fuzz_expected(u, c, bad))
		WHEN 'refund_payment' THEN format(
			'enrollment.refund_payment(%L, %L, %L::numeric, %L, %L)',
			u, c, fuzz_amount(bad), fuzz_key(bad), fuzz_reason(bad))
		WHEN 'cancel_enrollment' THEN format('enrollment.cancel_enrollment(%L, %L, %L)',
		                                     u, c, fuzz_reason(bad))
		WHEN 'change_price' THEN format('enrollment.change_price(%L, %L, %L::numeric, %L)',
		                                u, c, fuzz_amount(bad), fuzz_reason(bad))
		WHEN 'import_enrollment' THEN format(
			'enrollment.import_enrollment(%L, %L, %L::numeric, %L::numeric, %L, %L::timestamptz)',
			u, c, fuzz_amount(bad), fuzz_amount(bad), fuzz_currency(bad), fuzz_time(bad))
		ELSE format('enrollment.apply_payments(%L::jsonb)', fuzz_batch(bad))
	END;
END
$$;

-- run the calls, each in its own subtransaction and transaction
CREATE PROCEDURE fuzz(calls int, seed float8) LANGUAGE plpgsql AS $$
DECLARE
	function text;
	call text;
	state text;
	payments int;
	paid numeric;
BEGIN
	PERFORM setseed(seed);
	FOR n IN 1 .. calls LOOP
		function := pick(ARRAY['enroll', 'apply_payment', 'pay_remaining_balance',
		                       'apply_payments', 'refund_payment', 'cancel_enrollment',
		                       'change_price', 'import_enrollment']);
		-- half the calls have only valid values, so that payments happen
		call := fuzz_call(function, CASE WHEN chance(0.5) THEN 0 ELSE 0.3 END);
		state := '00000';
		payments := 0;
		paid := 0;
		BEGIN
			IF function = 'enroll' THEN
				EXECUTE 'SELECT FROM ' || call;
			ELSIF function IN ('cancel_enrollment', 'change_price') THEN
				EXECUTE 'SELECT 1, 0 FROM ' || call INTO payments, paid;
			ELSIF function = 'import_enrollment' THEN
				EXECUTE 'SELECT 1, amount_paid FROM ' || call INTO payments, paid;
			ELSE
				EXECUTE 'SELECT count(*), coalesce(sum(amount), 0) FROM ' || call ||
					' WHERE NOT replayed' INTO payments, paid;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
		END;
		INSERT INTO fuzz_log VALUES (n, function, call, state, payments, paid);
		COMMIT;
	END LOOP;
END
$$;
EOF

# the calls, then a question in the same session: a crashed backend
# cannot answer it
started=$SECONDS
answer=$(psql -X -q -t -A -d "$DB" -c "SET synchronous_commit = off" \
	-c "CALL fuzz($FUZZ_CALLS, $SEED / 2147483648.0)" -c "SELECT 'alive'" 2>&1) || true
echo "# $((SECONDS - started)) s"
answer=${answer//$'\n'/ }
tap "$([ "$answer" = alive ] && echo t)" \
	"the session answers after $FUZZ_CALLS random calls ($answer)"
# after a crash the server restarts: wait for it before reading the results
for _ in $(seq 30); do pg_isready -q -d "$DB" && break; sleep 1; done
tap "$(sql "SELECT count(*) = $FUZZ_CALLS FROM fuzz_log")" \
	"every call returned and was recorded ($(sql "SELECT count(*) FROM fuzz_log") of $FUZZ_CALLS)"

sql "SELECT '# ' || count(*) || ' calls, ' || count(*) FILTER (WHERE sqlstate = '00000')
            || ' succeeded, ' || count(*) FILTER (WHERE sqlstate <> '00000') || ' refused'
       FROM fuzz_log"
sql "SELECT '#   ' || function || ': ' || string_agg(sqlstate || ' ' || n, ', ' ORDER BY sqlstate)
       FROM (SELECT function, sqlstate, count(*) AS n FROM fuzz_log GROUP BY 1, 2) s
      GROUP BY function ORDER BY function"

undocumented=$(sql "SELECT string_agg(DISTINCT sqlstate, ' ') FROM fuzz_log
                     WHERE sqlstate NOT IN ('00000', $DOCUMENTED)")
tap "$([ -z "$undocumented" ] && echo t)" \
	"every SQLSTATE raised is documented for bad input${undocumented:+ (not: $undocumented)}"
if [ -n "$undocumented" ]; then
	sql "SELECT '#   ' || sqlstate || ' from call ' || n || ': SELECT ' || left(call, 300)
	       FROM fuzz_log WHERE sqlstate NOT IN ('00000', $DOCUMENTED) ORDER BY n LIMIT 10"
fi

tap "$(sql "SELECT count(DISTINCT function) = 8 FROM fuzz_log WHERE sqlstate = '00000'")" \
	"each of the eight functions succeeded at least once"
tap "$(sql "SELECT count(*) > 0 FROM fuzz_log WHERE payments > 0")" \
	"some calls made payments ($(sql "SELECT sum(payments) FROM fuzz_log"))"

# what the successful calls reported is what the tables hold
tap "$(sql "SELECT (SELECT count(*) FROM enrollment.enrollments)
                   = 10 + count(*) FILTER (WHERE function IN ('enroll', 'import_enrollment')
                                             AND sqlstate = '00000')
              FROM fuzz_log")" \
	"one enrollment per successful enroll() and import_enrollment(), none from refused calls"
tap "$(sql "SELECT (SELECT (count(*), coalesce(sum(amount), 0)) FROM enrollment.payments)
                   = (sum(payments), sum(paid))
              FROM fuzz_log")" \
	"the ledger holds exactly the new rows that successful calls returned"

# invariants over every enrollment
tap "$(sql "SELECT bool_and(e.amount_paid = coalesce(l.total, 0))
              FROM enrollment.enrollments e
              LEFT JOIN (SELECT user_id, course_id, sum(amount) AS total
                           FROM enrollment.payments GROUP BY 1, 2) l
                     USING (user_id, course_id)")" \
	"every enrollment: amount_paid equals its ledger sum"
tap "$(sql "SELECT bool_and(amount_due = price - amount_paid
                      AND amount_paid BETWEEN 0 AND price)
              FROM enrollment.enrollments")" \
	"every enrollment: amount_due = price - amount_paid, 0 <= amount_paid <= price"
tap "$(sql "SELECT bool_and(status = CASE WHEN status IN ('cancelled', 'refunded') THEN status
                                        WHEN amount_due = 0 THEN 'paid'
                                        WHEN amount_paid = 0 THEN 'pending'
                                        ELSE 'partial' END::enrollment.payment_status
                      AND (status <> 'refunded' OR amount_paid = 0)
                      AND (paid_at IS NOT NULL) = (status = 'paid'))
              FROM enrollment.enrollments")" \
	"every enrollment: status and paid_at agree with the amounts"
tap "$(sql "SELECT count(*) = 0 FROM enrollment.verify()")" \
	"enrollment.verify() finds nothing"

dropdb "$DB"
tap_done
