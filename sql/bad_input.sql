--
-- Bad input, table-driven: every invalid call to every function raises the
-- SQLSTATE that docs/reference.md documents for it, and changes nothing in either
-- table (tables_checksum() from install.sql, taken before and after each
-- call).
--
-- All of it runs in one transaction that is rolled back at the end, so the
-- files after this one find the tables as they were.
BEGIN;

-- one enrollment in each state and in currencies with 0, 2, 3 and 4 decimals
SELECT count(enrollment.enroll('quinn', c, p, cur))
  FROM (VALUES ('usd', 1000, 'USD'), ('paid', 5, 'USD'), ('free', 0, 'USD'),
               ('jpy', 1000, 'JPY'), ('bhd', 10, 'BHD'), ('kwd', 10, 'KWD'),
               ('clf', 10, 'CLF')) v (c, p, cur);
SELECT amount_due, status
  FROM enrollment.apply_payment('quinn', 'usd', 400, 'q-400');
SELECT amount_due, status
  FROM enrollment.pay_remaining_balance('quinn', 'paid', 'q-paid');

-- each call, and the SQLSTATE of the errors table (docs/reference.md) it must raise
CREATE TEMP TABLE bad_input_cases (
	n serial PRIMARY KEY,
	expected text NOT NULL,
	call text NOT NULL
);
INSERT INTO bad_input_cases (expected, call) VALUES
	--
	-- enroll(user_id, course_id, price, currency)
	--
	-- 22004: a required argument is NULL
	('22004', $$enrollment.enroll(NULL, 'new', 1)$$),
	('22004', $$enrollment.enroll('quinn', NULL, 1)$$),
	('22004', $$enrollment.enroll('quinn', 'new', NULL)$$),
	('22004', $$enrollment.enroll('quinn', 'new', 1, NULL)$$),
	('22004', $$enrollment.enroll(NULL, NULL, NULL, NULL)$$),
	-- 22E01: invalid price
	('22E01', $$enrollment.enroll('quinn', 'new', -1)$$),
	('22E01', $$enrollment.enroll('quinn', 'new', -0.01)$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 'NaN')$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 'Infinity')$$),
	('22E01', $$enrollment.enroll('quinn', 'new', '-Infinity')$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 1000000000000.01)$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 1e100)$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 1e-100)$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 9.999)$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 1.5, 'JPY')$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 1.0001, 'BHD')$$),
	('22E01', $$enrollment.enroll('quinn', 'new', 1.00001, 'CLF')$$),
	-- 22E02: unknown currency
	('22E02', $$enrollment.enroll('quinn', 'new', 1, 'ABC')$$),
	('22E02', $$enrollment.enroll('quinn', 'new', 1, 'usd')$$),
	('22E02', $$enrollment.enroll('quinn', 'new', 1, '')$$),
	('22E02', $$enrollment.enroll('quinn', 'new', 1, ' USD')$$),
	('22E02', $$enrollment.enroll('quinn', 'new', 1, 'USDX')$$),
	('22E02', $$enrollment.enroll('quinn', 'new', 1, 'XXX')$$),
	-- 22E03: invalid user_id or course_id
	('22E03', $$enrollment.enroll('', 'new', 1)$$),
	('22E03', $$enrollment.enroll('quinn', '', 1)$$),
	('22E03', $$enrollment.enroll(' ', 'new', 1)$$),
	('22E03', $$enrollment.enroll(' quinn', 'new', 1)$$),
	('22E03', $$enrollment.enroll('quinn', 'new ', 1)$$),
	('22E03', $$enrollment.enroll(repeat('u', 256), 'new', 1)$$),
	('22E03', $$enrollment.enroll('quinn', repeat('é', 256), 1)$$),
	('22E03', $$enrollment.enroll(E'qu\tinn', 'new', 1)$$),
	('22E03', $$enrollment.enroll('quinn', E'new\n', 1)$$),
	('22E03', $$enrollment.enroll(E'\x01quinn', 'new', 1)$$),
	('22E03', $$enrollment.enroll('quinn', E'ne\x7Fw', 1)$$),
	('22E03', $$enrollment.enroll(E'qu\u0085inn', 'new', 1)$$),
	('22E03', $$enrollment.enroll('quinn', E'new\u009F', 1)$$),
	-- 23E01: the enrollment exists, whatever the price and currency
	('23E01', $$enrollment.enroll('quinn', 'usd', 1000)$$),
	('23E01', $$enrollment.enroll('quinn', 'paid', 7, 'JPY')$$),
	--
	-- apply_payment(user_id, course_id, amount, idempotency_key)
	--
	-- 22004
	('22004', $$enrollment.apply_payment(NULL, 'usd', 1)$$),
	('22004', $$enrollment.apply_payment('quinn', NULL, 1)$$),
	('22004', $$enrollment.apply_payment('quinn', 'usd', NULL)$$),
	('22004', $$enrollment.apply_payment('quinn', 'usd', NULL, 'q-new')$$),
	-- 22E01: invalid amount
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 0)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', '-0.00')$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', -0.01)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', -1000)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 'NaN')$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 'Infinity')$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', '-Infinity')$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 1000000000000.01)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 1e1000)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 1e-100)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 0.001)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'usd', 10.005, 'q-new')$$),
	('22E01', $$enrollment.apply_payment('quinn', 'jpy', 0.5)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'jpy', 10.50)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'bhd', 1.0005)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'kwd', 0.0001)$$),
	('22E01', $$enrollment.apply_payment('quinn', 'clf', 0.00001)$$),
	-- 22E03: invalid id or key
	('22E03', $$enrollment.apply_payment('', 'usd', 1)$$),
	('22E03', $$enrollment.apply_payment('quinn', '', 1)$$),
	('22E03', $$enrollment.apply_payment('quinn ', 'usd', 1)$$),
	('22E03', $$enrollment.apply_payment('quinn', ' usd', 1)$$),
	('22E03', $$enrollment.apply_payment(repeat('q', 256), 'usd', 1)$$),
	('22E03', $$enrollment.apply_payment('quinn', E'us\rd', 1)$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, '')$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, ' ')$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, ' q-new')$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, 'q-new ')$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, repeat('k', 256))$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, repeat('€', 256))$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, E'q\tnew')$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, E'q\x1Bnew')$$),
	('22E03', $$enrollment.apply_payment('quinn', 'usd', 1, E'q\u0080new')$$),
	-- 23E02: no such enrollment (ids are compared exactly; a key of 255
	-- characters is valid)
	('23E02', $$enrollment.apply_payment('quinn', 'nope', 1)$$),
	('23E02', $$enrollment.apply_payment('nobody', 'usd', 1)$$),
	('23E02', $$enrollment.apply_payment('Quinn', 'usd', 1)$$),
	('23E02', $$enrollment.apply_payment('quinn', 'USD', 1)$$),
	('23E02', $$enrollment.apply_payment('quinn', 'nope', 1, repeat('é', 255))$$),
	-- 23E03: more than the amount due
	('23E03', $$enrollment.apply_payment('quinn', 'usd', 600.01)$$),
	('23E03', $$enrollment.apply_payment('quinn', 'usd', 1000)$$),
	('23E03', $$enrollment.apply_payment('quinn', 'usd', 1000000000000)$$),
	('23E03', $$enrollment.apply_payment('quinn', 'jpy', 1001, 'q-new')$$),
	('23E03', $$enrollment.apply_payment('quinn', 'kwd', 10.001)$$),
	-- 23E04: key used before with another amount or course
	('23E04', $$enrollment.apply_payment('quinn', 'usd', 400.01, 'q-400')$$),
	('23E04', $$enrollment.apply_payment('quinn', 'usd', 1, 'q-400')$$),
	('23E04', $$enrollment.apply_payment('quinn', 'jpy', 400, 'q-400')$$),
	('23E04', $$enrollment.apply_payment('quinn', 'usd', 5, 'q-paid')$$),
	-- 55E01: nothing is due
	('55E01', $$enrollment.apply_payment('quinn', 'paid', 1)$$),
	('55E01', $$enrollment.apply_payment('quinn', 'paid', 0.01, 'q-new')$$),
	('55E01', $$enrollment.apply_payment('quinn', 'free', 1)$$),
	--
	-- pay_remaining_balance(user_id, course_id, idempotency_key, expected_amount)
	--
	-- 22004
	('22004', $$enrollment.pay_remaining_balance(NULL, 'usd')$$),
	('22004', $$enrollment.pay_remaining_balance('quinn', NULL)$$),
	('22004', $$enrollment.pay_remaining_balance(NULL, NULL, NULL, NULL)$$),
	-- 22E01: invalid expected_amount
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 0)$$),
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => -600)$$),
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 'NaN')$$),
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 'Infinity')$$),
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => '-Infinity')$$),
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 1e13)$$),
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 599.999)$$),
	('22E01', $$enrollment.pay_remaining_balance('quinn', 'jpy', 'q-new', 999.9)$$),
	-- 22E03
	('22E03', $$enrollment.pay_remaining_balance('', 'usd')$$),
	('22E03', $$enrollment.pay_remaining_balance('quinn', repeat('c', 256))$$),
	('22E03', $$enrollment.pay_remaining_balance('quinn', 'usd', '')$$),
	('22E03', $$enrollment.pay_remaining_balance('quinn', 'usd', E'q\nnew')$$),
	('22E03', $$enrollment.pay_remaining_balance('quinn', 'usd', repeat('k', 256), 600)$$),
	-- 23E02
	('23E02', $$enrollment.pay_remaining_balance('quinn', 'nope')$$),
	('23E02', $$enrollment.pay_remaining_balance('nobody', 'usd', 'q-new', 600)$$),
	-- 23E04: the key of a partial payment, or of another course
	('23E04', $$enrollment.pay_remaining_balance('quinn', 'usd', 'q-400')$$),
	('23E04', $$enrollment.pay_remaining_balance('quinn', 'usd', 'q-paid')$$),
	('23E04', $$enrollment.pay_remaining_balance('quinn', 'paid', 'q-paid', 4.99)$$),
	-- 55E01
	('55E01', $$enrollment.pay_remaining_balance('quinn', 'paid')$$),
	('55E01', $$enrollment.pay_remaining_balance('quinn', 'free', 'q-new')$$),
	-- 55E02: expected_amount is not the amount due
	('55E02', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 600.01)$$),
	('55E02', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 599.99)$$),
	('55E02', $$enrollment.pay_remaining_balance('quinn', 'usd', expected_amount => 1000)$$),
	('55E02', $$enrollment.pay_remaining_balance('quinn', 'jpy', 'q-new', 999)$$),
	--
	-- apply_payments(payments)
	--
	-- 22004
	('22004', $$enrollment.apply_payments(NULL)$$),
	-- not an error: an empty batch does nothing
	('00000', $$enrollment.apply_payments('[]')$$),
	-- 22E04: not an array of payment objects
	('22E04', $$enrollment.apply_payments('{}')$$),
	('22E04', $$enrollment.apply_payments('{"user_id": "quinn", "course_id": "usd", "amount": 1}')$$),
	('22E04', $$enrollment.apply_payments('1')$$),
	('22E04', $$enrollment.apply_payments('"[]"')$$),
	('22E04', $$enrollment.apply_payments('null')$$),
	('22E04', $$enrollment.apply_payments('true')$$),
	('22E04', $$enrollment.apply_payments('[1]')$$),
	('22E04', $$enrollment.apply_payments('["quinn"]')$$),
	('22E04', $$enrollment.apply_payments('[null]')$$),
	('22E04', $$enrollment.apply_payments('[[]]')$$),
	('22E04', $$enrollment.apply_payments('[{}]')$$),
	-- 22E04: a missing key, an unknown key, a value of the wrong JSON type
	('22E04', $$enrollment.apply_payments('[{"course_id": "usd", "amount": 1}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "amount": 1}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd"}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1, "note": "x"}]')$$),
	('22E04', $$enrollment.apply_payments('[{"User_id": "quinn", "course_id": "usd", "amount": 1}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": null, "course_id": "usd", "amount": 1}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": 7, "course_id": "usd", "amount": 1}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": ["usd"], "amount": 1}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": null}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": "1"}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": "NaN"}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": false}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": {"value": 1}}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1, "idempotency_key": 5}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1, "idempotency_key": {}}]')$$),
	-- 22E04: the bad item comes after good ones
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1}, {"user_id": "quinn", "course_id": "jpy", "amount": 1}, {"user_id": "quinn", "course_id": "usd", "amount": "2"}]')$$),
	('22E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1}, 2]')$$),
	-- 22E04: more than 10 000 items, each one valid
	('22E04', $$enrollment.apply_payments((SELECT jsonb_agg('{"user_id": "quinn", "course_id": "usd", "amount": 0.01}'::jsonb) FROM generate_series(1, 10001)))$$),
	-- the rules of apply_payment(), item by item
	('22E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 0}]')$$),
	('22E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": -1}]')$$),
	('22E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1e1000}]')$$),
	('22E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1e-1000}]')$$),
	('22E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 0.001}]')$$),
	('22E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1}, {"user_id": "quinn", "course_id": "jpy", "amount": 0.5}]')$$),
	('22E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "bhd", "amount": 0.0001}]')$$),
	('22E03', $$enrollment.apply_payments('[{"user_id": "", "course_id": "usd", "amount": 1}]')$$),
	('22E03', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd ", "amount": 1}]')$$),
	('22E03', $$enrollment.apply_payments('[{"user_id": "qu\u0001inn", "course_id": "usd", "amount": 1}]')$$),
	('22E03', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1, "idempotency_key": ""}]')$$),
	('22E03', $$enrollment.apply_payments(jsonb_build_array(jsonb_build_object('user_id', 'quinn', 'course_id', 'usd', 'amount', 1, 'idempotency_key', repeat('k', 256))))$$),
	('23E02', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1}, {"user_id": "quinn", "course_id": "nope", "amount": 1}]')$$),
	('23E03', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 600.01}]')$$),
	-- each item fits the amount due, together they do not
	('23E03', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 300}, {"user_id": "quinn", "course_id": "jpy", "amount": 1}, {"user_id": "quinn", "course_id": "usd", "amount": 300.01}]')$$),
	('23E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1, "idempotency_key": "q-400"}]')$$),
	-- one key twice in the batch with different amounts
	('23E04', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1, "idempotency_key": "q-new"}, {"user_id": "quinn", "course_id": "usd", "amount": 2, "idempotency_key": "q-new"}]')$$),
	('55E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "usd", "amount": 1}, {"user_id": "quinn", "course_id": "paid", "amount": 1}]')$$),
	-- the last item pays the rest, the next one finds nothing due
	('55E01', $$enrollment.apply_payments('[{"user_id": "quinn", "course_id": "kwd", "amount": 10}, {"user_id": "quinn", "course_id": "kwd", "amount": 0.001}]')$$);

-- run each call in its own subtransaction; keep the SQLSTATE it raised
-- (00000 if none) and whether both tables are the same as before the call
CREATE TEMP TABLE bad_input_results (
	n int PRIMARY KEY,
	expected text,
	actual text,
	unchanged boolean,
	call text
);
DO $$
DECLARE
	c record;
	actual text;
	before text := tables_checksum();
	after text;
BEGIN
	FOR c IN SELECT * FROM bad_input_cases ORDER BY n LOOP
		BEGIN
			EXECUTE 'SELECT ' || c.call;
			actual := '00000';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS actual = RETURNED_SQLSTATE;
		END;
		after := tables_checksum();
		INSERT INTO bad_input_results
			VALUES (c.n, c.expected, actual, after = before, c.call);
		before := after;
	END LOOP;
END
$$;

SELECT n, expected, actual, unchanged, call FROM bad_input_results ORDER BY n;

-- the cases per function
SELECT substring(call FROM '^enrollment\.(\w+)\(') AS function, count(*) AS cases,
       count(DISTINCT expected) AS sqlstates
  FROM bad_input_results GROUP BY 1 ORDER BY 1;

-- every call raised the documented SQLSTATE and changed nothing
SELECT n, expected, actual, unchanged, call
  FROM bad_input_results
 WHERE actual IS DISTINCT FROM expected OR unchanged IS NOT TRUE
 ORDER BY n;

-- the fixtures still accept valid payments
SELECT amount_paid, amount_due, status
  FROM enrollment.apply_payment('quinn', 'usd', 600, 'q-600');

ROLLBACK;
