-- invariants.sql: after a mix of enrollments, payments, replays and refused
-- calls, the enrollments and the ledger agree; CHECK constraints refuse
-- direct writes that break the per-row invariants.  Run by pg_prove as a
-- superuser in a database with pgtap and enrollment installed.
BEGIN;
SELECT plan(100);

--
-- Enrollments
--
SELECT results_eq(
	$$SELECT currency, price::text, amount_paid::text, amount_due::text, status::text,
			 paid_at IS NULL
		FROM enrollment.enroll('alice', 'math', 100.00, 'USD')$$,
	$$VALUES ('USD', '100.00', '0.00', '100.00', 'pending', true)$$,
	'enroll alice/math: 100.00 USD, pending');
SELECT results_eq(
	$$SELECT currency, price::text, amount_paid::text, amount_due::text, status::text
		FROM enrollment.enroll('alice', 'art', 5000, 'JPY')$$,
	$$VALUES ('JPY', '5000', '0', '5000', 'pending')$$,
	'enroll alice/art: 5000 JPY, no decimals');
SELECT results_eq(
	$$SELECT currency, price::text, amount_paid::text, amount_due::text, status::text
		FROM enrollment.enroll('bob', 'math', 12.345, 'KWD')$$,
	$$VALUES ('KWD', '12.345', '0.000', '12.345', 'pending')$$,
	'enroll bob/math: 12.345 KWD, three decimals');
SELECT results_eq(
	$$SELECT currency, price::text, status::text
		FROM enrollment.enroll('bob', 'art', 49.99)$$,
	$$VALUES ('USD', '49.99', 'pending')$$,
	'enroll bob/art: currency defaults to USD');
SELECT results_eq(
	$$SELECT price::text, amount_paid::text, amount_due::text, status::text,
			 paid_at IS NOT NULL AND paid_at = created_at
		FROM enrollment.enroll('carol', 'math', 0, 'USD')$$,
	$$VALUES ('0.00', '0.00', '0.00', 'paid', true)$$,
	'enroll carol/math at price 0: paid at once, paid_at set');
SELECT results_eq(
	$$SELECT price::text, status::text FROM enrollment.enroll('dave', 'math', 10, 'JPY')$$,
	$$VALUES ('10', 'pending')$$,
	'enroll dave/math: 10 JPY');
SELECT results_eq(
	$$SELECT price::text, status::text
		FROM enrollment.enroll('frank', 'big', 1000000000000, 'KWD')$$,
	$$VALUES ('1000000000000.000', 'pending')$$,
	'enroll at the largest accepted price, 1000000000000');
SELECT results_eq(
	$$SELECT pg_catalog.char_length(user_id), price::text
		FROM enrollment.enroll(repeat('é', 255), 'math', 1.5, 'USD')$$,
	$$VALUES (255, '1.50')$$,
	'a user_id of 255 multibyte characters is accepted');

-- refused enrollments
SELECT throws_ok($$SELECT enrollment.enroll('alice', 'math', 100.00, 'USD')$$,
	'23E01', NULL, 'enroll an existing enrollment: 23E01');
SELECT throws_ok($$SELECT enrollment.enroll('alice', 'math', 80, 'JPY')$$,
	'23E01', NULL, 'enroll an existing enrollment at another price and currency: 23E01');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 10, 'XYZ')$$,
	'22E02', NULL, 'enroll in unknown currency XYZ: 22E02');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 10, 'usd')$$,
	'22E02', NULL, 'enroll in lower-case currency usd: 22E02');
SELECT throws_ok($$SELECT enrollment.enroll(NULL, 'math', 10)$$,
	'22004', NULL, 'enroll with NULL user_id: 22004');
SELECT throws_ok($$SELECT enrollment.enroll('erin', NULL, 10)$$,
	'22004', NULL, 'enroll with NULL course_id: 22004');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', NULL)$$,
	'22004', NULL, 'enroll with NULL price: 22004');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 10, NULL)$$,
	'22004', NULL, 'enroll with NULL currency: 22004');
SELECT throws_ok($$SELECT enrollment.enroll('', 'math', 10)$$,
	'22E03', NULL, 'enroll with empty user_id: 22E03');
SELECT throws_ok($$SELECT enrollment.enroll(' erin', 'math', 10)$$,
	'22E03', NULL, 'enroll with a leading space in user_id: 22E03');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math ', 10)$$,
	'22E03', NULL, 'enroll with a trailing space in course_id: 22E03');
SELECT throws_ok($$SELECT enrollment.enroll(E'er\nin', 'math', 10)$$,
	'22E03', NULL, 'enroll with a control character in user_id: 22E03');
SELECT throws_ok($$SELECT enrollment.enroll(repeat('é', 256), 'math', 10)$$,
	'22E03', NULL, 'enroll with a 256-character user_id: 22E03');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', -1)$$,
	'22E01', NULL, 'enroll at a negative price: 22E01');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 10.001, 'USD')$$,
	'22E01', NULL, 'enroll at 10.001 USD (three decimals): 22E01');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 10.5, 'JPY')$$,
	'22E01', NULL, 'enroll at 10.5 JPY (decimals in a currency without): 22E01');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 'NaN')$$,
	'22E01', NULL, 'enroll at price NaN: 22E01');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 'Infinity')$$,
	'22E01', NULL, 'enroll at price Infinity: 22E01');
SELECT throws_ok($$SELECT enrollment.enroll('erin', 'math', 1000000000000.01, 'USD')$$,
	'22E01', NULL, 'enroll above the largest accepted price: 22E01');

--
-- alice/math, 100.00 USD: partial payments, replays, refusals, the rest
--
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text, replayed
		FROM enrollment.apply_payment('alice', 'math', 25.5, 'a-1')$$,
	$$VALUES ('25.50', '25.50', '74.50', 'partial', false)$$,
	'alice/math: pay 25.50 with key a-1');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text, replayed
		FROM enrollment.apply_payment('alice', 'math', 25.50, 'a-1')$$,
	$$VALUES ('25.50', '25.50', '74.50', 'partial', true)$$,
	'alice/math: retry with key a-1 replays the first result');
SELECT is(
	(SELECT p.payment_id FROM enrollment.apply_payment('alice', 'math', 25.5, 'a-1') AS p),
	(SELECT payment_id FROM enrollment.payments WHERE user_id = 'alice' AND idempotency_key = 'a-1'),
	'alice/math: a replay returns the payment_id of the first call');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'art', 25.5, 'a-1')$$,
	'23E04', NULL, 'alice: key a-1 reused for another course: 23E04');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 30, 'a-1')$$,
	'23E04', NULL, 'alice: key a-1 reused for another amount: 23E04');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 74.51)$$,
	'23E03', NULL, 'alice/math: paying 74.51 of 74.50 due: 23E03');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 0.001)$$,
	'22E01', NULL, 'alice/math: 0.001 USD: 22E01');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 0)$$,
	'22E01', NULL, 'alice/math: amount 0: 22E01');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', -5)$$,
	'22E01', NULL, 'alice/math: negative amount: 22E01');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 'NaN')$$,
	'22E01', NULL, 'alice/math: amount NaN: 22E01');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', '-Infinity')$$,
	'22E01', NULL, 'alice/math: amount -Infinity: 22E01');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 1000000000000.01)$$,
	'22E01', NULL, 'alice/math: amount above the largest accepted: 22E01');
SELECT throws_ok($$SELECT enrollment.apply_payment(NULL, 'math', 1)$$,
	'22004', NULL, 'apply_payment with NULL user_id: 22004');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', NULL, 1)$$,
	'22004', NULL, 'apply_payment with NULL course_id: 22004');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', NULL)$$,
	'22004', NULL, 'apply_payment with NULL amount: 22004');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 1, '')$$,
	'22E03', NULL, 'apply_payment with an empty key: 22E03');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 1, repeat('k', 256))$$,
	'22E03', NULL, 'apply_payment with a 256-character key: 22E03');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', E'ma\tth', 1)$$,
	'22E03', NULL, 'apply_payment with a tab in course_id: 22E03');
SELECT throws_ok($$SELECT enrollment.apply_payment('zoe', 'math', 1)$$,
	'23E02', NULL, 'apply_payment for a user not enrolled: 23E02');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'history', 1)$$,
	'23E02', NULL, 'apply_payment for a course alice is not enrolled in: 23E02');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text, replayed
		FROM enrollment.apply_payment('alice', 'math', 10)$$,
	$$VALUES ('10.00', '35.50', '64.50', 'partial', false)$$,
	'alice/math: pay 10.00 without a key');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('alice', 'math', 'a-2', 64.00)$$,
	'55E02', NULL, 'alice/math: pay the rest expecting 64.00 of 64.50: 55E02');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('alice', 'math', 'a-2', 64.505)$$,
	'22E01', NULL, 'alice/math: expected amount with three decimals: 22E01');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text, replayed
		FROM enrollment.pay_remaining_balance('alice', 'math', 'a-2', 64.50)$$,
	$$VALUES ('64.50', '100.00', '0.00', 'paid', false)$$,
	'alice/math: pay the remaining 64.50 with key a-2');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'math', 1)$$,
	'55E01', NULL, 'alice/math: paying a paid enrollment: 55E01');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('alice', 'math')$$,
	'55E01', NULL, 'alice/math: paying the rest of a paid enrollment: 55E01');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('alice', 'math', 'a-3', 0.01)$$,
	'55E01', NULL, 'alice/math: paying the rest of a paid enrollment with a new key: 55E01');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text, replayed
		FROM enrollment.apply_payment('alice', 'math', 25.5, 'a-1')$$,
	$$VALUES ('25.50', '25.50', '74.50', 'partial', true)$$,
	'alice/math: retry of a-1 after the enrollment is paid still replays');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text, replayed
		FROM enrollment.pay_remaining_balance('alice', 'math', 'a-2', 64.50)$$,
	$$VALUES ('64.50', '100.00', '0.00', 'paid', true)$$,
	'alice/math: retry of a-2 replays');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance(NULL, 'math')$$,
	'22004', NULL, 'pay_remaining_balance with NULL user_id: 22004');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('dave', NULL)$$,
	'22004', NULL, 'pay_remaining_balance with NULL course_id: 22004');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('dave', 'history')$$,
	'23E02', NULL, 'pay_remaining_balance for a course dave is not enrolled in: 23E02');

--
-- alice/art, 5000 JPY
--
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'art', 1000.5)$$,
	'22E01', NULL, 'alice/art: 1000.5 JPY: 22E01');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text
		FROM enrollment.apply_payment('alice', 'art', 1000, 'j-1')$$,
	$$VALUES ('1000', '1000', '4000', 'partial')$$,
	'alice/art: pay 1000 JPY');
SELECT throws_ok($$SELECT enrollment.apply_payment('alice', 'art', 4001)$$,
	'23E03', NULL, 'alice/art: paying 4001 of 4000 due: 23E03');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text
		FROM enrollment.apply_payment('alice', 'art', 4000, 'j-2')$$,
	$$VALUES ('4000', '5000', '0', 'paid')$$,
	'alice/art: pay exactly the 4000 JPY due');

--
-- bob/math, 12.345 KWD; bob/art, 49.99 USD
--
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text, replayed
		FROM enrollment.apply_payment('bob', 'math', 0.005, 'a-1')$$,
	$$VALUES ('0.005', '0.005', '12.340', 'partial', false)$$,
	'bob/math: key a-1 is bob''s own (keys are per user): pays 0.005 KWD');
SELECT throws_ok($$SELECT enrollment.apply_payment('bob', 'math', 0.0001)$$,
	'22E01', NULL, 'bob/math: 0.0001 KWD: 22E01');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('bob', 'math', 'b-2', 12.341)$$,
	'55E02', NULL, 'bob/math: pay the rest expecting 12.341 of 12.340 KWD due: 55E02');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text
		FROM enrollment.pay_remaining_balance('bob', 'math', 'b-2', 12.34)$$,
	$$VALUES ('12.340', '12.345', '0.000', 'paid')$$,
	'bob/math: pay the remaining 12.340 KWD, expected as 12.34 (compared by value)');
SELECT results_eq(
	$$SELECT amount::text, amount_paid::text, amount_due::text, status::text
		FROM enrollment.pay_remaining_balance('bob', 'art', 'b-3')$$,
	$$VALUES ('49.99', '49.99', '0.00', 'paid')$$,
	'bob/art: pay the remaining balance with no expected amount, pending to paid');

--
-- carol/math is paid at price 0
--
SELECT throws_ok($$SELECT enrollment.apply_payment('carol', 'math', 0.01)$$,
	'55E01', NULL, 'carol/math (price 0): paying: 55E01');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('carol', 'math')$$,
	'55E01', NULL, 'carol/math (price 0): paying the rest: 55E01');

--
-- The resulting state
--
SELECT results_eq(
	$$SELECT user_id, course_id, currency, price::text, amount_paid::text,
			 amount_due::text, status::text
		FROM enrollment.enrollments
	   WHERE user_id <> repeat('é', 255)
	   ORDER BY user_id, course_id$$,
	$$VALUES ('alice', 'art', 'JPY', '5000', '5000', '0', 'paid'),
			 ('alice', 'math', 'USD', '100.00', '100.00', '0.00', 'paid'),
			 ('bob', 'art', 'USD', '49.99', '49.99', '0.00', 'paid'),
			 ('bob', 'math', 'KWD', '12.345', '12.345', '0.000', 'paid'),
			 ('carol', 'math', 'USD', '0.00', '0.00', '0.00', 'paid'),
			 ('dave', 'math', 'JPY', '10', '0', '10', 'pending'),
			 ('frank', 'big', 'KWD', '1000000000000.000', '0.000', '1000000000000.000', 'pending')$$,
	'the enrollments hold the expected amounts and status');
SELECT results_eq(
	$$SELECT user_id, course_id, amount::text, idempotency_key, amount_paid_after::text,
			 amount_due_after::text, status_after::text, created_by
		FROM enrollment.payments ORDER BY payment_id$$,
	$$VALUES ('alice', 'math', '25.50', 'a-1', '25.50', '74.50', 'partial', session_user),
			 ('alice', 'math', '10.00', NULL, '35.50', '64.50', 'partial', session_user),
			 ('alice', 'math', '64.50', 'a-2', '100.00', '0.00', 'paid', session_user),
			 ('alice', 'art', '1000', 'j-1', '1000', '4000', 'partial', session_user),
			 ('alice', 'art', '4000', 'j-2', '5000', '0', 'paid', session_user),
			 ('bob', 'math', '0.005', 'a-1', '0.005', '12.340', 'partial', session_user),
			 ('bob', 'math', '12.340', 'b-2', '12.345', '0.000', 'paid', session_user),
			 ('bob', 'art', '49.99', 'b-3', '49.99', '0.00', 'paid', session_user)$$,
	'the ledger holds one row per applied payment; replays and refused calls wrote none');

--
-- The invariants, for every enrollment and every ledger row
--
SELECT is_empty(
	$$SELECT e.user_id, e.course_id
		FROM enrollment.enrollments e
	   WHERE e.amount_paid <> coalesce((SELECT sum(p.amount) FROM enrollment.payments p
										 WHERE p.user_id = e.user_id
										   AND p.course_id = e.course_id), 0)$$,
	'amount_paid = coalesce(sum of the ledger amounts, 0) for every enrollment');
SELECT is_empty(
	$$SELECT user_id, course_id FROM enrollment.enrollments
	   WHERE amount_paid + amount_due <> price$$,
	'amount_paid + amount_due = price for every enrollment');
SELECT is_empty(
	$$SELECT user_id, course_id FROM enrollment.enrollments
	   WHERE status <> CASE WHEN amount_due = 0 THEN 'paid'
							WHEN amount_paid = 0 THEN 'pending'
							ELSE 'partial' END::enrollment.payment_status$$,
	'status agrees with the amounts for every enrollment');
SELECT is_empty(
	$$SELECT user_id, course_id FROM enrollment.enrollments
	   WHERE (status = 'paid') <> (paid_at IS NOT NULL)$$,
	'paid_at is set exactly when the enrollment is paid');
SELECT is_empty(
	$$SELECT e.user_id, e.course_id
		FROM enrollment.enrollments e
		JOIN LATERAL (SELECT p.* FROM enrollment.payments p
					   WHERE p.user_id = e.user_id AND p.course_id = e.course_id
					   ORDER BY p.payment_id DESC LIMIT 1) AS last ON true
	   WHERE (last.amount_paid_after, last.amount_due_after, last.status_after)
			 IS DISTINCT FROM (e.amount_paid, e.amount_due, e.status)$$,
	'the last ledger row of each enrollment has its current amount_paid, amount_due, status');
SELECT is(
	(SELECT count(DISTINCT (user_id, course_id)) FROM enrollment.payments),
	4::bigint,
	'four enrollments have ledger rows (the check above compared them)');
SELECT is_empty(
	$$SELECT e.user_id, e.course_id
		FROM enrollment.enrollments e
		LEFT JOIN LATERAL (SELECT p.created_at FROM enrollment.payments p
							WHERE p.user_id = e.user_id AND p.course_id = e.course_id
							ORDER BY p.payment_id DESC LIMIT 1) AS last ON true
	   WHERE e.updated_at <> coalesce(last.created_at, e.created_at)
		  OR (e.status = 'paid' AND e.paid_at <> coalesce(last.created_at, e.created_at))$$,
	'updated_at and paid_at are the time of the last payment (or of the enrollment)');
SELECT is_empty(
	$$SELECT p.payment_id
		FROM (SELECT *, sum(amount) OVER (PARTITION BY user_id, course_id
										  ORDER BY payment_id) AS running_sum
				FROM enrollment.payments) AS p
		JOIN enrollment.enrollments e USING (user_id, course_id)
	   WHERE p.amount_paid_after <> p.running_sum
		  OR p.amount_paid_after + p.amount_due_after <> e.price
		  OR p.status_after <> CASE WHEN p.amount_due_after = 0 THEN 'paid'
									WHEN p.amount_paid_after = 0 THEN 'pending'
									ELSE 'partial' END::enrollment.payment_status$$,
	'every ledger row: amount_paid_after is the running sum, amounts add up to the price, status agrees');
SELECT is_empty(
	$$SELECT e.user_id, e.course_id
		FROM enrollment.enrollments e
		JOIN enrollment.currencies c ON c.code = e.currency
	   WHERE scale(e.price) <> c.minor_unit OR scale(e.amount_paid) <> c.minor_unit
		  OR scale(e.amount_due) <> c.minor_unit
	  UNION ALL
	  SELECT p.user_id, p.course_id
		FROM enrollment.payments p
		JOIN enrollment.enrollments e USING (user_id, course_id)
		JOIN enrollment.currencies c ON c.code = e.currency
	   WHERE scale(p.amount) <> c.minor_unit OR scale(p.amount_paid_after) <> c.minor_unit
		  OR scale(p.amount_due_after) <> c.minor_unit$$,
	'every stored amount has exactly its currency''s number of decimals');

--
-- Direct writes that break the invariants are refused by CHECK constraints,
-- even for a superuser
--
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET amount_paid = amount_paid + 1$$,
	'23514', 'new row for relation "enrollments" violates check constraint "amounts_add_up"',
	'UPDATE enrollments SET amount_paid = amount_paid + 1: 23514 amounts_add_up');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET amount_due = amount_due + 1
	   WHERE user_id = 'dave'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "amounts_add_up"',
	'UPDATE amount_due alone: 23514 amounts_add_up');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET status = 'paid', paid_at = now()
	   WHERE user_id = 'dave'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "status_matches_amounts"',
	'status paid with amount_due > 0: 23514 status_matches_amounts');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET status = 'paid' WHERE user_id = 'dave'$$,
	'23514', NULL,
	'status paid with amount_due > 0 and no paid_at: 23514');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET status = 'partial' WHERE user_id = 'dave'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "status_matches_amounts"',
	'status partial with amount_paid = 0: 23514 status_matches_amounts');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET status = 'pending', paid_at = NULL
	   WHERE user_id = 'alice' AND course_id = 'math'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "status_matches_amounts"',
	'status pending with amount_paid > 0: 23514 status_matches_amounts');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET paid_at = now() WHERE user_id = 'dave'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "paid_at_set_when_paid"',
	'paid_at on a pending enrollment: 23514 paid_at_set_when_paid');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET paid_at = NULL
	   WHERE user_id = 'alice' AND course_id = 'math'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "paid_at_set_when_paid"',
	'no paid_at on a paid enrollment: 23514 paid_at_set_when_paid');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET amount_paid = -1, amount_due = price + 1
	   WHERE user_id = 'dave'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "amount_paid_nonnegative"',
	'negative amount_paid: 23514 amount_paid_nonnegative');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET amount_paid = price + 1, amount_due = -1
	   WHERE user_id = 'alice' AND course_id = 'math'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "amount_due_nonnegative"',
	'negative amount_due: 23514 amount_due_nonnegative');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET price = -10, amount_due = -10
	   WHERE user_id = 'dave'$$,
	'23514', NULL,
	'negative price: 23514');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments
		 SET price = 1000000000000.001, amount_due = 1000000000000.001
	   WHERE user_id = 'frank'$$,
	'23514', 'new row for relation "enrollments" violates check constraint "price_range"',
	'price above 1000000000000: 23514 price_range');
SELECT throws_ok(
	$$INSERT INTO enrollment.enrollments
		(user_id, course_id, currency, price, amount_paid, amount_due, status,
		 created_at, updated_at, paid_at)
	  VALUES ('gina', 'math', 'USD', 10, 0, 10, 'paid', now(), now(), now())$$,
	'23514', 'new row for relation "enrollments" violates check constraint "status_matches_amounts"',
	'INSERT of a paid enrollment with amount_due > 0: 23514 status_matches_amounts');
SELECT throws_ok(
	$$INSERT INTO enrollment.payments
		(user_id, course_id, amount, kind, amount_paid_after, amount_due_after,
		 status_after, created_at, created_by)
	  VALUES ('dave', 'math', 0, 'payment', 0, 10, 'pending', now(), current_user)$$,
	'23514', 'new row for relation "payments" violates check constraint "amount_matches_kind"',
	'ledger payment of 0: 23514 amount_matches_kind');
SELECT throws_ok(
	$$INSERT INTO enrollment.payments
		(user_id, course_id, amount, kind, amount_paid_after, amount_due_after,
		 status_after, created_at, created_by)
	  VALUES ('dave', 'math', -1, 'payment', 0, 10, 'pending', now(), current_user)$$,
	'23514', 'new row for relation "payments" violates check constraint "amount_matches_kind"',
	'ledger payment with a negative amount: 23514 amount_matches_kind');
SELECT throws_ok(
	$$INSERT INTO enrollment.payments
		(user_id, course_id, amount, kind, amount_paid_after, amount_due_after,
		 status_after, created_at, created_by)
	  VALUES ('dave', 'math', 11, 'payment', 11, -1, 'paid', now(), current_user)$$,
	'23514', 'new row for relation "payments" violates check constraint "amounts_after_nonnegative"',
	'ledger row with a negative amount_due_after: 23514 amounts_after_nonnegative');
SELECT throws_ok(
	$$INSERT INTO enrollment.currencies (code, minor_unit, name) VALUES ('XXY', 5, 'Five')$$,
	'23514', 'new row for relation "currencies" violates check constraint "minor_unit_range"',
	'currency with 5 decimals: 23514 minor_unit_range');
SELECT throws_ok(
	$$INSERT INTO enrollment.currencies (code, minor_unit, name) VALUES ('xxy', 2, 'Lower')$$,
	'23514', 'new row for relation "currencies" violates check constraint "currency_code_format"',
	'lower-case currency code: 23514 currency_code_format');

-- The refused writes changed nothing.
SELECT results_eq(
	$$SELECT count(*)::int, sum(amount_paid), sum(amount_due)
		FROM enrollment.enrollments WHERE user_id IN ('alice', 'dave', 'frank')$$,
	$$VALUES (4, 5100.00, 1000000000010.000)$$,
	'the enrollments are unchanged after the refused writes');

SELECT * FROM finish();
ROLLBACK;
