-- scale_out.sql: the SQL path of the payment functions
-- (enrollment.table_access = sql), the one Citus can route.  Every
-- statement it runs on the enrollments or the ledger must name one user:
-- filter on user_id = $1, or insert a row whose user_id is $1.  The
-- statements are read from pg_stat_statements, so the test server loads it
-- (shared_preload_libraries) and tracks nested statements
-- (pg_stat_statements.track = all).  Run by pg_prove as a superuser in a
-- database with pgtap and enrollment installed; everything is rolled back.
BEGIN;
SELECT plan(10);

CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

-- the statements run inside the functions (not the test's own) that read
-- or write enrollments or payments
CREATE TEMPORARY VIEW table_statements AS
	SELECT query FROM pg_stat_statements
	 WHERE NOT toplevel
	   AND query ~ '"?enrollment"?\."?(enrollments|payments)\M';

--
-- auto, the default, reaches the tables directly where citus is not
-- installed: a payment runs no statement
--
SET LOCAL enrollment.table_access = auto;
\o /dev/null
SELECT pg_stat_statements_reset();
SELECT enrollment.enroll('scale-ann', 'c1', 100.00);	-- loads the library
SELECT enrollment.apply_payment('scale-ann', 'c1', 10.00, 'scale-k1');
\o
SELECT is((SELECT boot_val FROM pg_catalog.pg_settings
			 WHERE name = 'enrollment.table_access'), 'auto',
	'enrollment.table_access is auto by default');
SELECT is((SELECT context FROM pg_catalog.pg_settings
			 WHERE name = 'enrollment.table_access'), 'superuser',
	'enrollment.table_access is a superuser setting');
SELECT is_empty(
	$$SELECT query FROM table_statements WHERE query !~ '^INSERT INTO enrollment\.enrollments'$$,
	'without citus, auto pays through direct table access: no statement');

--
-- sql: every function, every branch that reaches the tables
--
SET LOCAL enrollment.table_access = sql;
\o /dev/null
SELECT pg_stat_statements_reset();
SELECT enrollment.enroll('scale-bob', 'c1', 100.00);
SELECT enrollment.enroll('scale-bob', 'c2', 50.00);
SELECT enrollment.apply_payment('scale-bob', 'c1', 10.00, 'scale-k1');	-- new
SELECT enrollment.apply_payment('scale-bob', 'c1', 10.00, 'scale-k1');	-- replay
SELECT enrollment.apply_payment('scale-bob', 'c1', 5.00);
SELECT enrollment.pay_remaining_balance('scale-bob', 'c1', 'scale-k2');
SELECT enrollment.pay_remaining_balance('scale-bob', 'c1', 'scale-k2');	-- replay when paid
SELECT enrollment.refund_payment('scale-bob', 'c1', 20.00, 'scale-k3', 'partial refund');
SELECT enrollment.change_price('scale-bob', 'c1', 90.00, 'coupon');
SELECT enrollment.cancel_enrollment('scale-bob', 'c1', 'left');
SELECT enrollment.import_enrollment('scale-bob', 'c3', 100.00, 40.00);
SELECT enrollment.history('scale-bob', 'c1');
SELECT enrollment.apply_payments(
	'[{"user_id": "scale-bob", "course_id": "c2", "amount": 10.00, "idempotency_key": "scale-k4"},
	  {"user_id": "scale-bob", "course_id": "c3", "amount": 60.00}]');
\o

SELECT isnt_empty(
	$$SELECT query FROM table_statements WHERE query ~ 'FOR NO KEY UPDATE'$$,
	'an event locks its enrollment with SELECT ... FOR NO KEY UPDATE');
SELECT isnt_empty(
	$$SELECT query FROM table_statements WHERE query ~ '^UPDATE enrollment\.enrollments'$$,
	'an event updates its enrollment with UPDATE');
SELECT isnt_empty(
	$$SELECT query FROM table_statements
	   WHERE query ~ '^INSERT INTO enrollment\.payments .* ON CONFLICT \(user_id, idempotency_key\) DO NOTHING'$$,
	'an event appends to the ledger with INSERT ... ON CONFLICT DO NOTHING');
SELECT isnt_empty(
	$$SELECT query FROM table_statements
	   WHERE query ~ '^SELECT .* FROM enrollment\.payments WHERE user_id .* AND idempotency_key'$$,
	'a replay finds its idempotency key with SELECT');
SELECT is_empty(
	$$SELECT query FROM table_statements
	   WHERE query !~ '(\m\w+\.)?"?user_id"? OPERATOR\(pg_catalog\.=\) \$1\M'
		 AND query !~ '^INSERT INTO enrollment\.(enrollments|payments)\s*\(user_id,'$$,
	'every statement on enrollments or the ledger filters on user_id = $1 or inserts user_id $1');
SELECT is(
	(SELECT status::text FROM enrollment.enrollments
	  WHERE user_id = 'scale-bob' AND course_id = 'c1'),
	'cancelled', 'the SQL path changed the enrollment');
SELECT is_empty('SELECT * FROM enrollment.verify()',
	'the ledger explains every amount the SQL path wrote');

SELECT * FROM finish();
ROLLBACK;
