-- privileges.sql: nothing for PUBLIC, the grant recipe of docs/operations.md, and the
-- append-only ledger.  Run by pg_prove as a superuser in a database with
-- pgtap and enrollment installed; the roles it creates are rolled back.
BEGIN;
SELECT plan(54);

--
-- PUBLIC gets nothing
--
SELECT is_empty(
	$$SELECT t.tbl, p.priv
		FROM (VALUES ('enrollment.enrollments'), ('enrollment.payments'),
					 ('enrollment.currencies')) AS t (tbl),
			 (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'),
					 ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) AS p (priv)
	   WHERE pg_catalog.has_table_privilege('public', t.tbl, p.priv)
		  OR pg_catalog.has_any_column_privilege('public', t.tbl, 'SELECT, INSERT, UPDATE, REFERENCES')$$,
	'PUBLIC has no privilege on enrollments, payments, currencies or their columns');
SELECT is_empty(
	$$SELECT p.priv
		FROM (VALUES ('USAGE'), ('SELECT'), ('UPDATE')) AS p (priv)
	   WHERE pg_catalog.has_sequence_privilege('public',
			pg_catalog.pg_get_serial_sequence('enrollment.payments', 'payment_id'), p.priv)$$,
	'PUBLIC has no privilege on the payments sequence');
SELECT ok(NOT pg_catalog.has_function_privilege('public',
		'enrollment.enroll(text, text, numeric, text)', 'EXECUTE'),
	'PUBLIC cannot EXECUTE enroll()');
SELECT ok(NOT pg_catalog.has_function_privilege('public',
		'enrollment.apply_payment(text, text, numeric, text)', 'EXECUTE'),
	'PUBLIC cannot EXECUTE apply_payment()');
SELECT ok(NOT pg_catalog.has_function_privilege('public',
		'enrollment.pay_remaining_balance(text, text, text, numeric)', 'EXECUTE'),
	'PUBLIC cannot EXECUTE pay_remaining_balance()');
SELECT ok(NOT pg_catalog.has_function_privilege('public',
		'enrollment.apply_payments(jsonb)', 'EXECUTE'),
	'PUBLIC cannot EXECUTE apply_payments()');
SELECT ok(NOT pg_catalog.has_function_privilege('public',
		'enrollment.refuse_ledger_change()', 'EXECUTE'),
	'PUBLIC cannot EXECUTE refuse_ledger_change()');

--
-- The grant recipe of docs/operations.md, exactly
--
CREATE ROLE app NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO app;
GRANT SELECT ON enrollment.enrollments, enrollment.payments, enrollment.currencies TO app;
GRANT EXECUTE ON FUNCTION
    enrollment.apply_payment(text, text, numeric, text),
    enrollment.pay_remaining_balance(text, text, text, numeric),
    enrollment.apply_payments(jsonb),
    enrollment.history(text, text) TO app;

-- nobody: no grants at all; usage_only: only USAGE on the schema, so that
-- what stops it is the table's or function's own privileges.
CREATE ROLE nobody NOLOGIN;
CREATE ROLE usage_only NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO usage_only;

-- A fresh role gets nothing through PUBLIC either.
SELECT ok(NOT pg_catalog.has_function_privilege('nobody',
		'enrollment.apply_payment(text, text, numeric, text)', 'EXECUTE')
	AND NOT pg_catalog.has_table_privilege('nobody', 'enrollment.payments', 'SELECT'),
	'a fresh role has neither EXECUTE on apply_payment() nor SELECT on payments');

-- As superuser: the enrollments the roles will pay.
SELECT lives_ok(
	$$SELECT enrollment.enroll('alice', 'course-1', 100.00, 'USD')$$,
	'superuser enrolls alice in course-1');
SELECT lives_ok(
	$$SELECT enrollment.enroll('bob', 'course-1', 20, 'USD')$$,
	'superuser enrolls bob in course-1');

--
-- app: pays through the functions, reads the tables, writes nothing directly
--
SET ROLE app;

SELECT results_eq(
	$$SELECT amount, amount_paid, amount_due, status::text, replayed
		FROM enrollment.apply_payment('alice', 'course-1', 30.00, 'app-k1')$$,
	$$VALUES (30.00, 30.00, 70.00, 'partial', false)$$,
	'app: apply_payment() pays 30.00 of 100.00');
SELECT results_eq(
	$$SELECT amount, amount_paid, amount_due, status::text, replayed
		FROM enrollment.apply_payment('alice', 'course-1', 30.00, 'app-k1')$$,
	$$VALUES (30.00, 30.00, 70.00, 'partial', true)$$,
	'app: retrying apply_payment() with its key replays it');
SELECT results_eq(
	$$SELECT amount, amount_paid, amount_due, status::text, replayed
		FROM enrollment.pay_remaining_balance('alice', 'course-1', 'app-k2', 70.00)$$,
	$$VALUES (70.00, 100.00, 0.00, 'paid', false)$$,
	'app: pay_remaining_balance() pays the remaining 70.00');

SELECT results_eq(
	$$SELECT amount, amount_paid, status::text, replayed
		FROM enrollment.apply_payments('[{"user_id": "alice", "course_id": "course-1",
		                                  "amount": 30.00, "idempotency_key": "app-k1"}]')$$,
	$$VALUES (30.00, 30.00, 'partial', true)$$,
	'app: apply_payments() replays a key of apply_payment()');

SELECT results_eq(
	$$SELECT user_id, course_id, status::text, amount_paid, amount_due
		FROM enrollment.enrollments ORDER BY user_id$$,
	$$VALUES ('alice', 'course-1', 'paid', 100.00, 0.00),
			 ('bob', 'course-1', 'pending', 0.00, 20.00)$$,
	'app: can SELECT enrollment.enrollments');
SELECT results_eq(
	$$SELECT idempotency_key, amount FROM enrollment.payments ORDER BY payment_id$$,
	$$VALUES ('app-k1', 30.00), ('app-k2', 70.00)$$,
	'app: can SELECT enrollment.payments');
SELECT results_eq(
	$$SELECT minor_unit::int FROM enrollment.currencies WHERE code = 'JPY'$$,
	$$VALUES (0)$$,
	'app: can SELECT enrollment.currencies');

SELECT throws_ok(
	$$INSERT INTO enrollment.enrollments
		(user_id, course_id, currency, price, amount_paid, amount_due, status,
		 created_at, updated_at)
	  VALUES ('mallory', 'course-1', 'USD', 1, 0, 1, 'pending', now(), now())$$,
	'42501', 'permission denied for table enrollments',
	'app: INSERT INTO enrollments is denied');
SELECT throws_ok(
	$$UPDATE enrollment.enrollments SET amount_due = 0$$,
	'42501', 'permission denied for table enrollments',
	'app: UPDATE enrollments is denied');
SELECT throws_ok(
	$$DELETE FROM enrollment.enrollments$$,
	'42501', 'permission denied for table enrollments',
	'app: DELETE FROM enrollments is denied');
SELECT throws_ok(
	$$TRUNCATE enrollment.enrollments$$,
	'42501', 'permission denied for table enrollments',
	'app: TRUNCATE enrollments is denied');
SELECT throws_ok(
	$$INSERT INTO enrollment.payments
		(user_id, course_id, amount, amount_paid_after, amount_due_after,
		 status_after, created_at, created_by)
	  VALUES ('bob', 'course-1', 20, 20, 0, 'paid', now(), current_user)$$,
	'42501', 'permission denied for table payments',
	'app: direct INSERT into the ledger is denied');
SELECT throws_ok(
	$$UPDATE enrollment.payments SET amount = 1$$,
	'42501', 'permission denied for table payments',
	'app: UPDATE payments is denied');
SELECT throws_ok(
	$$DELETE FROM enrollment.payments$$,
	'42501', 'permission denied for table payments',
	'app: DELETE FROM payments is denied');
SELECT throws_ok(
	$$INSERT INTO enrollment.currencies (code, minor_unit, name) VALUES ('XXY', 2, 'Fake')$$,
	'42501', 'permission denied for table currencies',
	'app: INSERT INTO currencies is denied');
SELECT throws_ok(
	$$SELECT pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('enrollment.payments', 'payment_id'))$$,
	'42501', NULL,
	'app: nextval() on the payments sequence is denied');
SELECT throws_ok(
	$$SELECT enrollment.enroll('carol', 'course-1', 10)$$,
	'42501', 'permission denied for function enroll',
	'app: enroll() is denied (not in the recipe)');

RESET ROLE;

-- SET ROLE does not change session_user: the ledger names the session's
-- user (here the superuser running the tests), not the role set.
SELECT results_eq(
	$$SELECT idempotency_key, created_by FROM enrollment.payments
	   WHERE user_id = 'alice' ORDER BY payment_id$$,
	$$VALUES ('app-k1', session_user), ('app-k2', session_user)$$,
	'payments made under SET ROLE app record created_by = session_user');

-- With SET SESSION AUTHORIZATION, session_user is app while the SECURITY
-- DEFINER function runs as its owner: created_by must be app, which shows
-- it is session_user and not the function's current_user.
SET SESSION AUTHORIZATION app;
SELECT results_eq(
	$$SELECT amount, status::text, replayed
		FROM enrollment.apply_payment('bob', 'course-1', 5, 'app-k3')$$,
	$$VALUES (5.00, 'partial', false)$$,
	'session authorization app: apply_payment() works');
RESET SESSION AUTHORIZATION;
SELECT results_eq(
	$$SELECT created_by FROM enrollment.payments WHERE idempotency_key = 'app-k3'$$,
	$$VALUES ('app'::name)$$,
	'a payment made in a session authorized as app records created_by = app');

--
-- nobody: no grants, everything is denied
--
SET ROLE nobody;
SELECT throws_ok($$SELECT * FROM enrollment.enrollments$$, '42501', NULL,
	'nobody: SELECT enrollments is denied');
SELECT throws_ok($$SELECT * FROM enrollment.payments$$, '42501', NULL,
	'nobody: SELECT payments is denied');
SELECT throws_ok($$SELECT * FROM enrollment.currencies$$, '42501', NULL,
	'nobody: SELECT currencies is denied');
SELECT throws_ok($$SELECT enrollment.enroll('nobody-user', 'course-1', 10)$$, '42501', NULL,
	'nobody: enroll() is denied');
SELECT throws_ok($$SELECT enrollment.apply_payment('bob', 'course-1', 1)$$, '42501', NULL,
	'nobody: apply_payment() is denied');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('bob', 'course-1')$$, '42501', NULL,
	'nobody: pay_remaining_balance() is denied');
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[]')$$, '42501', NULL,
	'nobody: apply_payments() is denied');
RESET ROLE;

--
-- usage_only: USAGE on the schema is not enough
--
SET ROLE usage_only;
SELECT throws_ok($$SELECT * FROM enrollment.enrollments$$,
	'42501', 'permission denied for table enrollments',
	'usage_only: SELECT enrollments is denied by the table''s privileges');
SELECT throws_ok($$SELECT * FROM enrollment.payments$$,
	'42501', 'permission denied for table payments',
	'usage_only: SELECT payments is denied by the table''s privileges');
SELECT throws_ok($$SELECT enrollment.enroll('usage-user', 'course-1', 10)$$,
	'42501', 'permission denied for function enroll',
	'usage_only: enroll() is denied by the function''s privileges');
SELECT throws_ok($$SELECT enrollment.apply_payment('bob', 'course-1', 1)$$,
	'42501', 'permission denied for function apply_payment',
	'usage_only: apply_payment() is denied by the function''s privileges');
SELECT throws_ok($$SELECT enrollment.pay_remaining_balance('bob', 'course-1')$$,
	'42501', 'permission denied for function pay_remaining_balance',
	'usage_only: pay_remaining_balance() is denied by the function''s privileges');
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[]')$$,
	'42501', 'permission denied for function apply_payments',
	'usage_only: apply_payments() is denied by the function''s privileges');
RESET ROLE;

-- The denied calls changed nothing.
SELECT results_eq(
	$$SELECT user_id, amount_paid, status::text FROM enrollment.enrollments ORDER BY user_id$$,
	$$VALUES ('alice', 100.00, 'paid'), ('bob', 5.00, 'partial')$$,
	'denied calls left the enrollments unchanged');

--
-- The ledger is append-only, even for a superuser
--
-- (the runner connects as a superuser)
SELECT throws_ok(
	$$UPDATE enrollment.payments SET amount = amount$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: UPDATE payments raises 23E05');
SELECT throws_ok(
	$$UPDATE enrollment.payments SET created_by = 'someone' WHERE idempotency_key = 'app-k1'$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: UPDATE of one ledger row raises 23E05');
SELECT throws_ok(
	$$DELETE FROM enrollment.payments$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: DELETE FROM payments raises 23E05');
SELECT throws_ok(
	$$DELETE FROM enrollment.payments WHERE idempotency_key = 'app-k2'$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: DELETE of one ledger row raises 23E05');
SELECT throws_ok(
	$$TRUNCATE enrollment.payments$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: TRUNCATE payments raises 23E05');
SET LOCAL client_min_messages = warning;	-- no "truncate cascades" notice
SELECT throws_ok(
	$$TRUNCATE enrollment.enrollments CASCADE$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: TRUNCATE enrollments CASCADE cannot empty the ledger (23E05)');
RESET client_min_messages;
SELECT throws_ok(
	$$DELETE FROM enrollment.enrollments WHERE user_id = 'alice'$$,
	'23503', NULL,
	'superuser: an enrollment with ledger rows cannot be deleted (23503)');

SET LOCAL session_replication_role = replica;
SELECT throws_ok(
	$$DELETE FROM enrollment.payments$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: DELETE FROM payments raises 23E05 under session_replication_role = replica');
SELECT throws_ok(
	$$UPDATE enrollment.payments SET amount = amount$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: UPDATE payments raises 23E05 under session_replication_role = replica');
RESET session_replication_role;

SELECT results_eq(
	$$SELECT idempotency_key, amount, created_by FROM enrollment.payments ORDER BY payment_id$$,
	$$VALUES ('app-k1', 30.00, session_user), ('app-k2', 70.00, session_user),
			 ('app-k3', 5.00, 'app'::name)$$,
	'the ledger still holds its three rows, unchanged');

SELECT * FROM finish();
ROLLBACK;
