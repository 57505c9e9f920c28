--
-- Every refused call: its SQLSTATE, its message, and proof that it
-- changed nothing
--
SELECT price FROM enrollment.enroll('judy', 'err-1', 50);
SELECT amount_paid FROM enrollment.apply_payment('judy', 'err-1', 10, 'judy-key');
SELECT price FROM enrollment.enroll('judy', 'err-paid', 5);
SELECT status FROM enrollment.pay_remaining_balance('judy', 'err-paid');
SELECT price FROM enrollment.enroll('judy', 'err-jpy', 500, 'JPY');

-- the full message of each kind of error, with its DETAIL and HINT
SELECT tables_checksum() AS before \gset
SELECT enrollment.apply_payment(NULL, 'err-1', 1);
SELECT enrollment.apply_payment('judy', 'err-1', 0);
SELECT enrollment.apply_payment('judy', 'err-1', 'NaN');
SELECT enrollment.apply_payment('judy', 'err-1', 1000000000000.01);
SELECT enrollment.apply_payment('judy', 'err-1', 1.001);
SELECT enrollment.enroll('judy', 'err-2', 10, 'ABC');
SELECT enrollment.apply_payment('judy', '', 1);
SELECT enrollment.apply_payment('judy', 'err-404', 1);
SELECT enrollment.apply_payment('judy', 'err-1', 41);
SELECT enrollment.apply_payment('judy', 'err-paid', 1);
SELECT enrollment.pay_remaining_balance('judy', 'err-1', expected_amount => 50);
SELECT enrollment.apply_payment('judy', 'err-1', 11, 'judy-key');
SELECT tables_checksum() = :'before' AS unchanged;

-- table-driven: each call, its SQLSTATE
CREATE TEMP TABLE bad_calls (n serial, call text);
INSERT INTO bad_calls (call) VALUES
	-- 22004: a required argument is NULL
	($$enrollment.enroll(NULL, 'c', 1)$$),
	($$enrollment.enroll('u', NULL, 1)$$),
	($$enrollment.enroll('u', 'c', NULL)$$),
	($$enrollment.enroll('u', 'c', 1, NULL)$$),
	($$enrollment.apply_payment(NULL, 'err-1', 1)$$),
	($$enrollment.apply_payment('judy', NULL, 1)$$),
	($$enrollment.apply_payment('judy', 'err-1', NULL)$$),
	($$enrollment.pay_remaining_balance(NULL, 'err-1')$$),
	($$enrollment.pay_remaining_balance('judy', NULL)$$),
	-- 22E01: invalid amount
	($$enrollment.enroll('judy', 'new', -1)$$),
	($$enrollment.enroll('judy', 'new', 'NaN')$$),
	($$enrollment.enroll('judy', 'new', 'Infinity')$$),
	($$enrollment.enroll('judy', 'new', 1000000000001)$$),
	($$enrollment.enroll('judy', 'new', 9.999)$$),
	($$enrollment.enroll('judy', 'new', 1.5, 'JPY')$$),
	($$enrollment.apply_payment('judy', 'err-1', 0)$$),
	($$enrollment.apply_payment('judy', 'err-1', -0.01)$$),
	($$enrollment.apply_payment('judy', 'err-1', 'NaN')$$),
	($$enrollment.apply_payment('judy', 'err-1', 'Infinity')$$),
	($$enrollment.apply_payment('judy', 'err-1', '-Infinity')$$),
	($$enrollment.apply_payment('judy', 'err-1', 1e100)$$),
	($$enrollment.apply_payment('judy', 'err-1', 1e-100)$$),
	($$enrollment.apply_payment('judy', 'err-1', 0.005)$$),
	($$enrollment.apply_payment('judy', 'err-jpy', 0.5)$$),
	($$enrollment.pay_remaining_balance('judy', 'err-1', expected_amount => 0)$$),
	($$enrollment.pay_remaining_balance('judy', 'err-1', expected_amount => 'NaN')$$),
	($$enrollment.pay_remaining_balance('judy', 'err-1', expected_amount => 39.999)$$),
	-- 22E02: unknown currency
	($$enrollment.enroll('judy', 'new', 1, 'ABC')$$),
	($$enrollment.enroll('judy', 'new', 1, 'eur')$$),
	-- 22E03: invalid id or key
	($$enrollment.enroll('', 'c', 1)$$),
	($$enrollment.enroll('u', '', 1)$$),
	($$enrollment.enroll(repeat('u', 256), 'c', 1)$$),
	($$enrollment.enroll(' judy', 'c', 1)$$),
	($$enrollment.enroll('judy ', 'c', 1)$$),
	($$enrollment.enroll(E'ju\ndy', 'c', 1)$$),
	($$enrollment.enroll(E'ju\u0085dy', 'c', 1)$$),
	($$enrollment.apply_payment('judy', 'err-1', 1, '')$$),
	($$enrollment.apply_payment('judy', 'err-1', 1, repeat('k', 256))$$),
	($$enrollment.apply_payment('judy', 'err-1', 1, E'k\t1')$$),
	($$enrollment.pay_remaining_balance('judy', 'err-1', '')$$),
	-- 23E01: enrollment exists
	($$enrollment.enroll('judy', 'err-1', 50)$$),
	-- 23E02: enrollment not found
	($$enrollment.apply_payment('judy', 'err-404', 1)$$),
	($$enrollment.apply_payment('nobody', 'err-1', 1)$$),
	($$enrollment.pay_remaining_balance('judy', 'err-404')$$),
	-- 23E03: overpayment
	($$enrollment.apply_payment('judy', 'err-1', 40.01)$$),
	($$enrollment.apply_payment('judy', 'err-1', 1000000000000)$$),
	-- 23E04: idempotency key reused with different parameters
	($$enrollment.apply_payment('judy', 'err-1', 10.01, 'judy-key')$$),
	($$enrollment.apply_payment('judy', 'err-paid', 10, 'judy-key')$$),
	($$enrollment.pay_remaining_balance('judy', 'err-1', 'judy-key', 40)$$),
	-- 55E01: already paid
	($$enrollment.apply_payment('judy', 'err-paid', 1)$$),
	($$enrollment.pay_remaining_balance('judy', 'err-paid')$$),
	-- 55E02: expected amount does not match the amount due
	($$enrollment.pay_remaining_balance('judy', 'err-1', expected_amount => 40.01)$$),
	($$enrollment.pay_remaining_balance('judy', 'err-1', expected_amount => 50)$$);

SELECT tables_checksum() AS before \gset
SELECT call, split_part(outcome('SELECT ' || call), ':', 1) AS sqlstate
  FROM bad_calls ORDER BY n;
SELECT tables_checksum() = :'before' AS unchanged;

-- 25006: a read-only transaction cannot pay, as it could not UPDATE
BEGIN READ ONLY;
SELECT enrollment.apply_payment('judy', 'err-1', 1);
ROLLBACK;
BEGIN READ ONLY;
SELECT enrollment.pay_remaining_balance('judy', 'err-1');
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM enrollment.apply_payments('[]');
ROLLBACK;
BEGIN READ ONLY;
SELECT enrollment.enroll('judy', 'err-ro', 1);
ROLLBACK;
SELECT tables_checksum() = :'before' AS unchanged;

-- the valid calls still work afterwards
SELECT amount_paid, status FROM enrollment.apply_payment('judy', 'err-1', 40);

-- XX001: a row changed behind the extension's back.  With triggers off
-- (session_replication_role = replica) a superuser can delete a currency
-- that an enrollment still uses; a payment to that enrollment is refused
-- as data_corrupted on both paths, and changes nothing.
BEGIN;
SELECT price FROM enrollment.enroll('judy', 'err-eur', 10, 'EUR');
SET LOCAL session_replication_role = replica;
DELETE FROM enrollment.currencies WHERE code = 'EUR';
SET LOCAL session_replication_role = origin;
SELECT tables_checksum() AS corrupted \gset
SET LOCAL enrollment.table_access = direct;
SELECT outcome($$SELECT enrollment.apply_payment('judy', 'err-eur', 1)$$);
SET LOCAL enrollment.table_access = sql;
SELECT outcome($$SELECT enrollment.apply_payment('judy', 'err-eur', 1)$$);
SELECT tables_checksum() = :'corrupted' AS unchanged;
ROLLBACK;
