-- schema.sql: the objects the install script creates, as the catalogs see
-- them.  Run by pg_prove in a database with pgtap and enrollment installed.
BEGIN;
SELECT plan(108);

--
-- Schema and tables
--
SELECT has_schema('enrollment', 'schema enrollment exists');
SELECT tables_are('enrollment',
	ARRAY['currencies', 'enrollments', 'event_slots', 'payments'],
	'schema enrollment has exactly the tables currencies, enrollments, event_slots, payments');

-- enrollment.enrollments
SELECT columns_are('enrollment', 'enrollments',
	ARRAY['user_id', 'course_id', 'currency', 'price', 'amount_paid',
		  'amount_due', 'status', 'created_at', 'updated_at', 'paid_at'],
	'enrollments has exactly the expected columns');
SELECT col_type_is('enrollment', 'enrollments', 'user_id', 'text', 'enrollments.user_id is text');
SELECT col_type_is('enrollment', 'enrollments', 'course_id', 'text', 'enrollments.course_id is text');
SELECT col_type_is('enrollment', 'enrollments', 'currency', 'text', 'enrollments.currency is text');
SELECT col_type_is('enrollment', 'enrollments', 'price', 'numeric', 'enrollments.price is numeric');
SELECT col_type_is('enrollment', 'enrollments', 'amount_paid', 'numeric', 'enrollments.amount_paid is numeric');
SELECT col_type_is('enrollment', 'enrollments', 'amount_due', 'numeric', 'enrollments.amount_due is numeric');
SELECT col_type_is('enrollment', 'enrollments', 'status', 'enrollment', 'payment_status',
	'enrollments.status is enrollment.payment_status');
SELECT col_type_is('enrollment', 'enrollments', 'created_at', 'timestamp with time zone',
	'enrollments.created_at is timestamptz');
SELECT col_type_is('enrollment', 'enrollments', 'updated_at', 'timestamp with time zone',
	'enrollments.updated_at is timestamptz');
SELECT col_type_is('enrollment', 'enrollments', 'paid_at', 'timestamp with time zone',
	'enrollments.paid_at is timestamptz');

-- enrollment.payments
SELECT columns_are('enrollment', 'payments',
	ARRAY['payment_id', 'user_id', 'course_id', 'amount', 'idempotency_key',
		  'amount_paid_after', 'amount_due_after', 'status_after',
		  'created_at', 'created_by', 'kind', 'reason'],
	'payments has exactly the expected columns');
SELECT col_type_is('enrollment', 'payments', 'payment_id', 'bigint', 'payments.payment_id is bigint');
SELECT col_type_is('enrollment', 'payments', 'user_id', 'text', 'payments.user_id is text');
SELECT col_type_is('enrollment', 'payments', 'course_id', 'text', 'payments.course_id is text');
SELECT col_type_is('enrollment', 'payments', 'amount', 'numeric', 'payments.amount is numeric');
SELECT col_type_is('enrollment', 'payments', 'idempotency_key', 'text', 'payments.idempotency_key is text');
SELECT col_type_is('enrollment', 'payments', 'amount_paid_after', 'numeric',
	'payments.amount_paid_after is numeric');
SELECT col_type_is('enrollment', 'payments', 'amount_due_after', 'numeric',
	'payments.amount_due_after is numeric');
SELECT col_type_is('enrollment', 'payments', 'status_after', 'enrollment', 'payment_status',
	'payments.status_after is enrollment.payment_status');
SELECT col_type_is('enrollment', 'payments', 'created_at', 'timestamp with time zone',
	'payments.created_at is timestamptz');
SELECT col_type_is('enrollment', 'payments', 'created_by', 'name', 'payments.created_by is name');
SELECT col_type_is('enrollment', 'payments', 'kind', 'enrollment', 'event_kind',
	'payments.kind is enrollment.event_kind');
SELECT col_type_is('enrollment', 'payments', 'reason', 'text', 'payments.reason is text');
SELECT is(
	(SELECT attidentity FROM pg_catalog.pg_attribute
	  WHERE attrelid = 'enrollment.payments'::regclass AND attname = 'payment_id'),
	'a'::"char",
	'payments.payment_id is GENERATED ALWAYS AS IDENTITY');

-- enrollment.currencies
SELECT columns_are('enrollment', 'currencies', ARRAY['code', 'minor_unit', 'name'],
	'currencies has exactly the expected columns');
SELECT col_type_is('enrollment', 'currencies', 'code', 'text', 'currencies.code is text');
SELECT col_type_is('enrollment', 'currencies', 'minor_unit', 'smallint', 'currencies.minor_unit is smallint');
SELECT col_type_is('enrollment', 'currencies', 'name', 'text', 'currencies.name is text');

-- Only paid_at and idempotency_key may be NULL.
SELECT set_eq(
	$$SELECT a.attrelid::regclass::text || '.' || a.attname
		FROM pg_catalog.pg_attribute a
	   WHERE a.attrelid IN ('enrollment.enrollments'::regclass,
							'enrollment.payments'::regclass,
							'enrollment.currencies'::regclass)
		 AND a.attnum > 0 AND NOT a.attisdropped AND NOT a.attnotnull$$,
	ARRAY['enrollment.enrollments.paid_at', 'enrollment.payments.idempotency_key',
		  'enrollment.payments.reason'],
	'only enrollments.paid_at, payments.idempotency_key and payments.reason are nullable');

--
-- Keys
--
SELECT col_is_pk('enrollment', 'enrollments', ARRAY['user_id', 'course_id'],
	'enrollments primary key is (user_id, course_id)');
SELECT col_is_pk('enrollment', 'payments', ARRAY['user_id', 'course_id', 'payment_id'],
	'payments primary key is (user_id, course_id, payment_id)');
SELECT col_is_pk('enrollment', 'currencies', ARRAY['code'], 'currencies primary key is (code)');
SELECT col_is_unique('enrollment', 'payments', ARRAY['user_id', 'idempotency_key'],
	'payments has UNIQUE (user_id, idempotency_key)');
SELECT is(
	(SELECT contype FROM pg_catalog.pg_constraint
	  WHERE conrelid = 'enrollment.payments'::regclass
		AND conname = 'payments_idempotency_key_unique'),
	'u'::"char",
	'the unique constraint is named payments_idempotency_key_unique');
-- Every key of the ledger starts with user_id (distribution by user_id).
SELECT is_empty(
	$$SELECT conname FROM pg_catalog.pg_constraint
	   WHERE conrelid = 'enrollment.payments'::regclass
		 AND contype IN ('p', 'u', 'f')
		 AND conkey[1] <> (SELECT attnum FROM pg_catalog.pg_attribute
							WHERE attrelid = 'enrollment.payments'::regclass
							  AND attname = 'user_id')$$,
	'every key of payments starts with user_id');
SELECT fk_ok('enrollment', 'payments', ARRAY['user_id', 'course_id'],
			 'enrollment', 'enrollments', ARRAY['user_id', 'course_id'],
	'payments (user_id, course_id) references enrollments (user_id, course_id)');
SELECT fk_ok('enrollment', 'enrollments', ARRAY['currency'],
			 'enrollment', 'currencies', ARRAY['code'],
	'enrollments (currency) references currencies (code)');

--
-- CHECK constraints, by name
--
SELECT set_eq(
	$$SELECT conname::text FROM pg_catalog.pg_constraint
	   WHERE conrelid = 'enrollment.enrollments'::regclass AND contype = 'c'$$,
	ARRAY['price_range', 'amount_paid_nonnegative', 'amount_due_nonnegative',
		  'amounts_add_up', 'status_matches_amounts', 'paid_at_set_when_paid'],
	'enrollments has exactly the CHECK constraints of the install scripts');
SELECT set_eq(
	$$SELECT conname::text FROM pg_catalog.pg_constraint
	   WHERE conrelid = 'enrollment.payments'::regclass AND contype = 'c'$$,
	ARRAY['amount_matches_kind', 'amounts_after_nonnegative', 'reason_length'],
	'payments has exactly the CHECK constraints of the install scripts');
SELECT set_eq(
	$$SELECT conname::text FROM pg_catalog.pg_constraint
	   WHERE conrelid = 'enrollment.currencies'::regclass AND contype = 'c'$$,
	ARRAY['currency_code_format', 'minor_unit_range'],
	'currencies has exactly the CHECK constraints of the install scripts');
SELECT is_empty(
	$$SELECT conrelid::regclass, conname FROM pg_catalog.pg_constraint
	   WHERE connamespace = 'enrollment'::regnamespace AND NOT convalidated$$,
	'every constraint in schema enrollment is validated');

--
-- Types
--
SELECT has_enum('enrollment', 'payment_status', 'enum enrollment.payment_status exists');
SELECT enum_has_labels('enrollment', 'payment_status',
	ARRAY['pending', 'partial', 'paid', 'cancelled', 'refunded'],
	'payment_status labels are pending, partial, paid, cancelled, refunded in that order');

SELECT has_composite('enrollment', 'payment_result', 'composite type enrollment.payment_result exists');
SELECT columns_are('enrollment', 'payment_result',
	ARRAY['payment_id', 'user_id', 'course_id', 'amount', 'amount_paid',
		  'amount_due', 'status', 'replayed', 'created_at'],
	'payment_result has exactly the expected columns');
SELECT is(
	(SELECT pg_catalog.string_agg(attname || ' ' || pg_catalog.format_type(atttypid, atttypmod),
								  ', ' ORDER BY attnum)
	   FROM pg_catalog.pg_attribute
	  WHERE attrelid = 'enrollment.payment_result'::regclass
		AND attnum > 0 AND NOT attisdropped),
	'payment_id bigint, user_id text, course_id text, amount numeric, '
	'amount_paid numeric, amount_due numeric, status enrollment.payment_status, '
	'replayed boolean, created_at timestamp with time zone',
	'payment_result columns have the expected types, in order');

--
-- Functions
--
SELECT functions_are('enrollment',
	ARRAY['enroll', 'apply_payment', 'pay_remaining_balance', 'apply_payments',
		  'refund_payment', 'cancel_enrollment', 'change_price', 'import_enrollment',
		  'history', 'verify', 'refuse_ledger_change', 'create_event_slot',
		  'drop_event_slot', 'read_events', 'confirm_events', 'check_event_slot'],
	'schema enrollment has exactly the expected functions');

SELECT has_function('enrollment', 'enroll', ARRAY['text', 'text', 'numeric', 'text'],
	'enroll(text, text, numeric, text) exists');
SELECT function_returns('enrollment', 'enroll', ARRAY['text', 'text', 'numeric', 'text'],
	'enrollment.enrollments', 'enroll() returns enrollment.enrollments');
SELECT is_definer('enrollment', 'enroll', ARRAY['text', 'text', 'numeric', 'text'],
	'enroll() is SECURITY DEFINER');
SELECT volatility_is('enrollment', 'enroll', ARRAY['text', 'text', 'numeric', 'text'],
	'volatile', 'enroll() is VOLATILE');
SELECT isnt_strict('enrollment', 'enroll', ARRAY['text', 'text', 'numeric', 'text'],
	'enroll() is not STRICT (NULL arguments raise 22004)');
SELECT function_lang_is('enrollment', 'enroll', ARRAY['text', 'text', 'numeric', 'text'],
	'c', 'enroll() is written in C');
SELECT is(pg_catalog.pg_get_function_arguments(
		'enrollment.enroll(text, text, numeric, text)'::regprocedure),
	$$user_id text, course_id text, price numeric, currency text DEFAULT 'USD'::text$$,
	'enroll() argument names and defaults');

SELECT has_function('enrollment', 'apply_payment', ARRAY['text', 'text', 'numeric', 'text'],
	'apply_payment(text, text, numeric, text) exists');
SELECT function_returns('enrollment', 'apply_payment', ARRAY['text', 'text', 'numeric', 'text'],
	'enrollment.payment_result', 'apply_payment() returns enrollment.payment_result');
SELECT is_definer('enrollment', 'apply_payment', ARRAY['text', 'text', 'numeric', 'text'],
	'apply_payment() is SECURITY DEFINER');
SELECT volatility_is('enrollment', 'apply_payment', ARRAY['text', 'text', 'numeric', 'text'],
	'volatile', 'apply_payment() is VOLATILE');
SELECT isnt_strict('enrollment', 'apply_payment', ARRAY['text', 'text', 'numeric', 'text'],
	'apply_payment() is not STRICT');
SELECT function_lang_is('enrollment', 'apply_payment', ARRAY['text', 'text', 'numeric', 'text'],
	'c', 'apply_payment() is written in C');
SELECT is(pg_catalog.pg_get_function_arguments(
		'enrollment.apply_payment(text, text, numeric, text)'::regprocedure),
	'user_id text, course_id text, amount numeric, idempotency_key text DEFAULT NULL::text',
	'apply_payment() argument names and defaults');

SELECT has_function('enrollment', 'pay_remaining_balance', ARRAY['text', 'text', 'text', 'numeric'],
	'pay_remaining_balance(text, text, text, numeric) exists');
SELECT function_returns('enrollment', 'pay_remaining_balance', ARRAY['text', 'text', 'text', 'numeric'],
	'enrollment.payment_result', 'pay_remaining_balance() returns enrollment.payment_result');
SELECT is_definer('enrollment', 'pay_remaining_balance', ARRAY['text', 'text', 'text', 'numeric'],
	'pay_remaining_balance() is SECURITY DEFINER');
SELECT volatility_is('enrollment', 'pay_remaining_balance', ARRAY['text', 'text', 'text', 'numeric'],
	'volatile', 'pay_remaining_balance() is VOLATILE');
SELECT isnt_strict('enrollment', 'pay_remaining_balance', ARRAY['text', 'text', 'text', 'numeric'],
	'pay_remaining_balance() is not STRICT');
SELECT function_lang_is('enrollment', 'pay_remaining_balance', ARRAY['text', 'text', 'text', 'numeric'],
	'c', 'pay_remaining_balance() is written in C');
SELECT is(pg_catalog.pg_get_function_arguments(
		'enrollment.pay_remaining_balance(text, text, text, numeric)'::regprocedure),
	'user_id text, course_id text, idempotency_key text DEFAULT NULL::text, '
	'expected_amount numeric DEFAULT NULL::numeric',
	'pay_remaining_balance() argument names and defaults');

SELECT has_function('enrollment', 'apply_payments', ARRAY['jsonb'],
	'apply_payments(jsonb) exists');
SELECT function_returns('enrollment', 'apply_payments', ARRAY['jsonb'],
	'setof enrollment.payment_result', 'apply_payments() returns setof enrollment.payment_result');
SELECT is_definer('enrollment', 'apply_payments', ARRAY['jsonb'],
	'apply_payments() is SECURITY DEFINER');
SELECT volatility_is('enrollment', 'apply_payments', ARRAY['jsonb'],
	'volatile', 'apply_payments() is VOLATILE');
SELECT isnt_strict('enrollment', 'apply_payments', ARRAY['jsonb'],
	'apply_payments() is not STRICT');
SELECT function_lang_is('enrollment', 'apply_payments', ARRAY['jsonb'],
	'c', 'apply_payments() is written in C');
SELECT is(pg_catalog.pg_get_function_arguments(
		'enrollment.apply_payments(jsonb)'::regprocedure),
	'payments jsonb',
	'apply_payments() argument name');

SELECT has_function('enrollment', 'refuse_ledger_change', ARRAY[]::name[],
	'refuse_ledger_change() exists');
SELECT function_returns('enrollment', 'refuse_ledger_change', ARRAY[]::name[], 'trigger',
	'refuse_ledger_change() returns trigger');
SELECT isnt_definer('enrollment', 'refuse_ledger_change', ARRAY[]::name[],
	'refuse_ledger_change() is not SECURITY DEFINER');

-- Every SECURITY DEFINER function pins its search_path.
SELECT set_eq(
	$$SELECT proname::text FROM pg_catalog.pg_proc
	   WHERE pronamespace = 'enrollment'::regnamespace AND prosecdef$$,
	ARRAY['enroll', 'apply_payment', 'pay_remaining_balance', 'apply_payments',
		  'refund_payment', 'cancel_enrollment', 'change_price', 'import_enrollment',
		  'read_events', 'confirm_events'],
	'the SECURITY DEFINER functions are those that write, and the event readers');

-- The event slots (1.2): create and drop for a DBA, read and confirm with
-- the owner's rights for a role that has nothing else
SELECT function_returns('enrollment', 'read_events', ARRAY['name', 'integer'],
	'setof record', 'read_events() returns a set of records');
SELECT is(
	(SELECT pg_catalog.pg_get_function_result('enrollment.read_events(name, integer)'::regprocedure)),
	'TABLE(commit_lsn pg_lsn, xid xid, event jsonb)',
	'read_events() returns commit_lsn, xid, event');
SELECT function_returns('enrollment', 'confirm_events', ARRAY['name', 'pg_lsn'], 'pg_lsn',
	'confirm_events() returns pg_lsn');
SELECT function_returns('enrollment', 'create_event_slot', ARRAY['name'], 'pg_lsn',
	'create_event_slot() returns pg_lsn');
SELECT isnt_definer('enrollment', 'create_event_slot', ARRAY['name'],
	'create_event_slot() runs with the rights of its caller');
SELECT isnt_definer('enrollment', 'drop_event_slot', ARRAY['name'],
	'drop_event_slot() runs with the rights of its caller');
SELECT col_is_pk('enrollment', 'event_slots', 'slot_name', 'event_slots is keyed by slot_name');
SELECT is_empty(
	$$SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
	   WHERE p.pronamespace = 'enrollment'::regnamespace AND p.prosecdef
		 AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)$$,
	'every SECURITY DEFINER function has search_path=pg_catalog, pg_temp in proconfig');

--
-- The append-only trigger on the ledger
--
SELECT has_trigger('enrollment', 'payments', 'payments_append_only',
	'payments has trigger payments_append_only');
SELECT trigger_is('enrollment', 'payments', 'payments_append_only',
	'enrollment', 'refuse_ledger_change',
	'payments_append_only calls enrollment.refuse_ledger_change()');
-- tgtype: BEFORE (2) | DELETE (8) | UPDATE (16) | TRUNCATE (32), not ROW (1),
-- not INSERT (4).
SELECT is(
	(SELECT tgtype::int FROM pg_catalog.pg_trigger
	  WHERE tgrelid = 'enrollment.payments'::regclass AND tgname = 'payments_append_only'),
	2 | 8 | 16 | 32,
	'payments_append_only is BEFORE UPDATE OR DELETE OR TRUNCATE FOR EACH STATEMENT');
SELECT is(
	(SELECT tgenabled FROM pg_catalog.pg_trigger
	  WHERE tgrelid = 'enrollment.payments'::regclass AND tgname = 'payments_append_only'),
	'A'::"char",
	'payments_append_only is ENABLE ALWAYS (fires under session_replication_role = replica)');

--
-- The extension: dump configuration and control properties
--
SELECT has_extension('enrollment', 'extension enrollment is installed');
SELECT is(
	(SELECT extnamespace::regnamespace::text FROM pg_catalog.pg_extension
	  WHERE extname = 'enrollment'),
	'enrollment',
	'extension enrollment lives in schema enrollment');
SELECT ok(
	(SELECT 'enrollment.enrollments'::regclass::oid = ANY (extconfig)
	   FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'extconfig contains enrollment.enrollments (pg_dump keeps its rows)');
SELECT ok(
	(SELECT 'enrollment.payments'::regclass::oid = ANY (extconfig)
	   FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'extconfig contains enrollment.payments (pg_dump keeps its rows)');
SELECT ok(
	(SELECT 'enrollment.event_slots'::regclass::oid = ANY (extconfig)
	   FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'extconfig contains enrollment.event_slots (pg_dump keeps its rows)');
SELECT ok(
	(SELECT pg_catalog.pg_get_serial_sequence('enrollment.payments', 'payment_id')::regclass::oid
			= ANY (extconfig)
	   FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'extconfig contains the payments identity sequence (pg_dump keeps its value)');
-- The install script fills currencies; dumping its rows too would make the
-- restore insert them twice.
SELECT ok(
	(SELECT NOT 'enrollment.currencies'::regclass::oid = ANY (extconfig)
	   FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'extconfig does not contain enrollment.currencies (restored by CREATE EXTENSION)');
SELECT is(
	(SELECT extrelocatable FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	false,
	'extension enrollment is not relocatable');
SELECT is(
	(SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'enrollment'),
	'1.2',
	'default version of enrollment is 1.2');
SELECT is(
	(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'1.2',
	'installed version of enrollment is 1.2');
SELECT results_eq(
	$$SELECT relocatable, superuser, trusted, schema = 'enrollment'
		FROM pg_catalog.pg_available_extension_versions
	   WHERE name = 'enrollment' AND version = '1.0'$$,
	$$VALUES (false, true, false, true)$$,
	'control file: not relocatable, superuser, not trusted, schema enrollment');

--
-- Currencies
--
SELECT cmp_ok((SELECT count(*) FROM enrollment.currencies), '>=', 150::bigint,
	'currencies has at least 150 rows');
SELECT results_eq(
	$$SELECT code, minor_unit::int FROM enrollment.currencies
	   WHERE code IN ('USD', 'EUR', 'JPY', 'KWD', 'CLF') ORDER BY code$$,
	$$VALUES ('CLF', 4), ('EUR', 2), ('JPY', 0), ('KWD', 3), ('USD', 2)$$,
	'minor units: CLF 4, EUR 2, JPY 0, KWD 3, USD 2');

-- updates of enrollments stay HOT: room is left on each page
SELECT is((SELECT reloptions FROM pg_catalog.pg_class
            WHERE oid = 'enrollment.enrollments'::regclass),
	ARRAY['fillfactor=80']::text[], 'enrollments has fillfactor 80');

SELECT * FROM finish();
ROLLBACK;
