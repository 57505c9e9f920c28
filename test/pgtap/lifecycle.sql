-- lifecycle.sql: the functions of version 1.1 (refunds, cancellation, price
-- changes, import, history, verify), their privileges with the recipes of
-- docs/operations.md, and the key shapes that keep the scale-out path open.  Run by
-- pg_prove as a superuser in a database with pgtap and enrollment
-- installed; everything is rolled back.
BEGIN;
SELECT plan(45);

--
-- Signatures
--
SELECT function_returns('enrollment', 'refund_payment',
	ARRAY['text', 'text', 'numeric', 'text', 'text'], 'enrollment.payment_result',
	'refund_payment(text, text, numeric, text, text) returns enrollment.payment_result');
SELECT function_returns('enrollment', 'cancel_enrollment', ARRAY['text', 'text', 'text'],
	'enrollment.enrollments', 'cancel_enrollment(text, text, text) returns enrollment.enrollments');
SELECT function_returns('enrollment', 'change_price', ARRAY['text', 'text', 'numeric', 'text'],
	'enrollment.enrollments', 'change_price(text, text, numeric, text) returns enrollment.enrollments');
SELECT function_returns('enrollment', 'import_enrollment',
	ARRAY['text', 'text', 'numeric', 'numeric', 'text', 'timestamp with time zone'],
	'enrollment.enrollments',
	'import_enrollment(text, text, numeric, numeric, text, timestamptz) returns enrollment.enrollments');
SELECT function_returns('enrollment', 'history', ARRAY['text', 'text'],
	'setof enrollment.payments', 'history(text, text) returns setof enrollment.payments');
SELECT function_returns('enrollment', 'verify', ARRAY[]::text[],
	'setof record', 'verify() returns a set of rows');
SELECT results_eq(
	$$SELECT pg_catalog.pg_get_function_arguments(p.oid)
		FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = 'enrollment'::regnamespace
		 AND p.proname IN ('refund_payment', 'cancel_enrollment', 'change_price',
						   'import_enrollment', 'history')
	   ORDER BY p.proname$$,
	ARRAY[
		'user_id text, course_id text, reason text DEFAULT NULL::text',
		'user_id text, course_id text, new_price numeric, reason text DEFAULT NULL::text',
		'user_id text, course_id text',
		'user_id text, course_id text, price numeric, amount_paid numeric, currency text DEFAULT ''USD''::text, enrolled_at timestamp with time zone DEFAULT NULL::timestamp with time zone',
		'user_id text, course_id text, amount numeric, idempotency_key text DEFAULT NULL::text, reason text DEFAULT NULL::text'],
	'argument names and defaults of the 1.1 functions');
SELECT ok(
	(SELECT bool_and(p.prosecdef) FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'enrollment'::regnamespace
		AND p.proname IN ('refund_payment', 'cancel_enrollment', 'change_price',
						  'import_enrollment')),
	'the functions that write are SECURITY DEFINER');
SELECT ok(
	(SELECT NOT bool_or(p.prosecdef) FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'enrollment'::regnamespace
		AND p.proname IN ('history', 'verify')),
	'history() and verify() run with the caller''s rights');
SELECT enum_has_labels('enrollment', 'payment_status',
	ARRAY['pending', 'partial', 'paid', 'cancelled', 'refunded'],
	'payment_status has the 1.1 labels, in order');
SELECT enum_has_labels('enrollment', 'event_kind',
	ARRAY['payment', 'refund', 'cancel', 'price_change', 'import'],
	'event_kind labels');
SELECT col_not_null('enrollment', 'payments', 'kind', 'payments.kind is NOT NULL');
SELECT col_hasnt_default('enrollment', 'payments', 'kind',
	'payments.kind has no default: every writer names the kind');

--
-- Privileges: PUBLIC gets nothing, and the recipes of docs/operations.md
--
SELECT is_empty(
	$$SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = 'enrollment'::regnamespace
		 AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')$$,
	'PUBLIC can EXECUTE no function of the extension');

CREATE ROLE app NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO app;
GRANT SELECT ON enrollment.enrollments, enrollment.payments, enrollment.currencies TO app;
GRANT EXECUTE ON FUNCTION
    enrollment.apply_payment(text, text, numeric, text),
    enrollment.pay_remaining_balance(text, text, text, numeric),
    enrollment.apply_payments(jsonb),
    enrollment.history(text, text) TO app;

CREATE ROLE back_office NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO back_office;
GRANT SELECT ON enrollment.enrollments, enrollment.payments TO back_office;
GRANT EXECUTE ON FUNCTION
    enrollment.refund_payment(text, text, numeric, text, text),
    enrollment.cancel_enrollment(text, text, text),
    enrollment.change_price(text, text, numeric, text),
    enrollment.history(text, text),
    enrollment.verify() TO back_office;

CREATE ROLE migration NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO migration;
GRANT SELECT ON enrollment.enrollments TO migration;
GRANT EXECUTE ON FUNCTION
    enrollment.import_enrollment(text, text, numeric, numeric, text, timestamptz)
    TO migration;

CREATE ROLE reader_without_ledger NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO reader_without_ledger;
GRANT EXECUTE ON FUNCTION enrollment.history(text, text), enrollment.verify()
	TO reader_without_ledger;

SELECT lives_ok($$SELECT enrollment.enroll('ann', 'c1', 100)$$, 'superuser enrolls ann');

SET ROLE app;
SELECT is((SELECT status::text FROM enrollment.apply_payment('ann', 'c1', 60, 'k1')),
	'partial', 'app pays');
SELECT is((SELECT count(*) FROM enrollment.history('ann', 'c1')), 1::bigint,
	'app reads the history');
SELECT throws_ok($$SELECT enrollment.refund_payment('ann', 'c1', 10)$$, '42501', NULL,
	'app cannot refund');
SELECT throws_ok($$SELECT enrollment.cancel_enrollment('ann', 'c1')$$, '42501', NULL,
	'app cannot cancel');
SELECT throws_ok($$SELECT enrollment.change_price('ann', 'c1', 50)$$, '42501', NULL,
	'app cannot change a price');
SELECT throws_ok($$SELECT enrollment.import_enrollment('ann', 'c2', 10, 0)$$, '42501', NULL,
	'app cannot import');
SELECT throws_ok($$SELECT * FROM enrollment.verify()$$, '42501', NULL,
	'app cannot call verify() without the grant');
RESET ROLE;

SET ROLE back_office;
SELECT is((SELECT amount FROM enrollment.refund_payment('ann', 'c1', 10, 'r1', 'goodwill')),
	-10.00, 'back_office refunds: amount is the change to amount_paid');
SELECT is((SELECT amount_paid FROM enrollment.change_price('ann', 'c1', 80)), 50.00,
	'back_office changes the price');
SELECT is((SELECT status::text FROM enrollment.cancel_enrollment('ann', 'c1', 'moved')),
	'cancelled', 'back_office cancels');
SELECT is_empty($$SELECT * FROM enrollment.verify()$$, 'back_office: verify() finds nothing');
SELECT throws_ok($$SELECT enrollment.apply_payment('ann', 'c1', 1)$$, '42501', NULL,
	'back_office cannot pay');
SELECT throws_ok($$UPDATE enrollment.enrollments SET price = 1$$, '42501', NULL,
	'back_office cannot write enrollments directly');
SELECT throws_ok($$INSERT INTO enrollment.payments (user_id, course_id, amount, kind,
		amount_paid_after, amount_due_after, status_after, created_at, created_by)
	VALUES ('ann', 'c1', -50, 'refund', 0, 80, 'refunded', now(), current_user)$$,
	'42501', NULL, 'back_office cannot write the ledger directly');
RESET ROLE;

SET ROLE migration;
SELECT is((SELECT status::text FROM enrollment.import_enrollment('ann', 'c2', 10, 4)),
	'partial', 'migration imports');
SELECT throws_ok($$SELECT enrollment.refund_payment('ann', 'c2', 1)$$, '42501', NULL,
	'migration cannot refund');
RESET ROLE;

SET ROLE reader_without_ledger;
SELECT throws_ok($$SELECT * FROM enrollment.history('ann', 'c1')$$, '42501', NULL,
	'history() needs SELECT on the ledger');
SELECT throws_ok($$SELECT * FROM enrollment.verify()$$, '42501', NULL,
	'verify() needs SELECT on both tables');
RESET ROLE;

--
-- The ledger explains every balance
--
SELECT results_eq(
	$$SELECT kind::text, amount, coalesce(reason, '-'), status_after::text
		FROM enrollment.history('ann', 'c1')$$,
	$$VALUES ('payment', 60.00, '-', 'partial'), ('refund', -10.00, 'goodwill', 'partial'),
			 ('price_change', 0.00, '-', 'partial'), ('cancel', 0.00, 'moved', 'cancelled')$$,
	'history: kinds, amounts, reasons and statuses in order');
SELECT is((SELECT amount_paid FROM enrollment.enrollments WHERE user_id = 'ann' AND course_id = 'c1'),
	(SELECT sum(amount) FROM enrollment.payments WHERE user_id = 'ann' AND course_id = 'c1'),
	'amount_paid equals the sum of the ledger''s amounts');
SELECT throws_ok($$INSERT INTO enrollment.payments (user_id, course_id, amount, kind,
		amount_paid_after, amount_due_after, status_after, created_at, created_by)
	VALUES ('ann', 'c1', 5, 'refund', 45, 35, 'partial', now(), current_user)$$,
	'23514', NULL, 'a refund with a positive amount violates amount_matches_kind');
SELECT throws_ok($$INSERT INTO enrollment.payments (user_id, course_id, amount, kind,
		amount_paid_after, amount_due_after, status_after, created_at, created_by)
	VALUES ('ann', 'c1', 1, 'cancel', 50, 30, 'cancelled', now(), current_user)$$,
	'23514', NULL, 'a cancellation with an amount violates amount_matches_kind');
SELECT throws_ok($$UPDATE enrollment.enrollments SET status = 'refunded'
	WHERE user_id = 'ann' AND course_id = 'c1'$$,
	'23514', NULL, 'refunded with something still paid violates status_matches_amounts');

--
-- The scale-out path: every key leads with user_id, the foreign key
-- carries it, and nothing references across users.
--
SELECT is_empty(
	$$SELECT c.conrelid::regclass, c.conname
		FROM pg_catalog.pg_constraint c
	   WHERE c.connamespace = 'enrollment'::regnamespace
		 AND c.contype IN ('p', 'u')
		 AND c.conrelid IN ('enrollment.enrollments'::regclass, 'enrollment.payments'::regclass)
		 AND NOT (SELECT a.attname = 'user_id' FROM pg_catalog.pg_attribute a
				   WHERE a.attrelid = c.conrelid AND a.attnum = c.conkey[1])$$,
	'every primary and unique key of enrollments and payments starts with user_id');
SELECT is_empty(
	$$SELECT i.indexrelid::regclass FROM pg_catalog.pg_index i
	   WHERE i.indrelid IN ('enrollment.enrollments'::regclass, 'enrollment.payments'::regclass)
		 AND i.indisunique
		 AND NOT (SELECT a.attname = 'user_id' FROM pg_catalog.pg_attribute a
				   WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0])$$,
	'every unique index of enrollments and payments starts with user_id');
SELECT results_eq(
	$$SELECT pg_catalog.pg_get_constraintdef(c.oid)
		FROM pg_catalog.pg_constraint c
	   WHERE c.conrelid = 'enrollment.payments'::regclass AND c.contype = 'f'$$,
	ARRAY['FOREIGN KEY (user_id, course_id) REFERENCES enrollment.enrollments(user_id, course_id)'],
	'the ledger''s only foreign key is (user_id, course_id) to enrollments');
SELECT results_eq(
	$$SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
		FROM pg_catalog.pg_constraint c
	   WHERE c.contype = 'f' AND c.confrelid IN
			 ('enrollment.enrollments'::regclass, 'enrollment.payments'::regclass)$$,
	$$VALUES ('enrollment.payments', 'enrollment.enrollments')$$,
	'no other table references enrollments or payments');
SELECT results_eq(
	$$SELECT pg_catalog.pg_get_constraintdef(c.oid)
		FROM pg_catalog.pg_constraint c
	   WHERE c.conrelid = 'enrollment.enrollments'::regclass AND c.contype = 'f'$$,
	ARRAY['FOREIGN KEY (currency) REFERENCES enrollment.currencies(code)'],
	'enrollments reference only currencies (a reference table under Citus)');
SELECT is(
	(SELECT pg_catalog.pg_get_function_identity_arguments(p.oid) LIKE 'user_id text, %'
	   FROM pg_catalog.pg_proc p
	  WHERE p.oid = 'enrollment.apply_payment(text, text, numeric, text)'::regprocedure),
	true, 'apply_payment() takes user_id first, the distribution argument');
SELECT is_empty(
	$$SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = 'enrollment'::regnamespace
		 AND p.proname IN ('enroll', 'apply_payment', 'pay_remaining_balance',
						   'refund_payment', 'cancel_enrollment', 'change_price',
						   'import_enrollment', 'history')
		 AND p.proargnames[1] IS DISTINCT FROM 'user_id'$$,
	'every function of one enrollment has user_id as its first argument');

SELECT * FROM finish();
ROLLBACK;
