-- security.sql: what privileges.sql leaves out.  Every function, table and
-- sequence of the extension is closed to a role without grants; the
-- grant recipe of docs/operations.md gives nothing beyond paying and reading; the ledger
-- stays append-only on the paths around a plain UPDATE, DELETE or TRUNCATE,
-- even for a non-superuser owner; no search_path a caller sets, nor
-- objects in the caller's temporary schema, change what the functions do;
-- and only a superuser, or a role granted it, sets enrollment.events.
-- Run by pg_prove as a superuser in a database with pgtap and enrollment
-- installed; everything it creates is rolled back.
BEGIN;
SELECT plan(46);

--
-- Schema probe: the machinery of these tests, usable by every role.
--
CREATE SCHEMA probe;
GRANT USAGE ON SCHEMA probe TO PUBLIC;

-- Run stmt with search_path set to path for the statement only, and return
-- its rows as a jsonb array, or the error it raised.  The path is set here
-- and not in the session because pgTAP's own functions would resolve their
-- operators in a hostile schema too; this function's statements are kept
-- to schema-qualified names while the path is in effect.
CREATE FUNCTION probe.try(stmt text, path text,
						  OUT state text, OUT message text, OUT detail text,
						  OUT result jsonb)
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	stmt := format('SELECT pg_catalog.jsonb_agg(r) FROM (%s) r', stmt);
	state := '00000';
	PERFORM pg_catalog.set_config('search_path', path, true);
	BEGIN
		EXECUTE stmt INTO result;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE,
			message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
	END;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog', true);
END $$;

-- Every function, table and sequence of schema enrollment, with a statement
-- that uses it: a call with NULL arguments, a SELECT.
CREATE VIEW probe.members (member, stmt) AS
	SELECT p.oid::regprocedure::text,
		   format('SELECT enrollment.%I(%s)', p.proname,
				  (SELECT string_agg(format('NULL::%s', format_type(a.type, NULL)),
									 ', ' ORDER BY a.n)
					 FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a (type, n)))
	  FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace = 'enrollment'::regnamespace
	UNION ALL
	SELECT c.oid::regclass::text, format('SELECT FROM enrollment.%I', c.relname)
	  FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'enrollment'::regnamespace
	   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S');
GRANT SELECT ON probe.members TO PUBLIC;

-- The grant recipe of docs/operations.md, exactly, with its line for enroll().
CREATE ROLE app NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO app;
GRANT SELECT ON enrollment.enrollments, enrollment.payments,
                enrollment.currencies TO app;
GRANT EXECUTE ON FUNCTION
    enrollment.apply_payment(text, text, numeric, text),
    enrollment.pay_remaining_balance(text, text, text, numeric),
    enrollment.apply_payments(jsonb),
    enrollment.history(text, text) TO app;
GRANT EXECUTE ON FUNCTION enrollment.enroll(text, text, numeric, text) TO app;

CREATE ROLE nobody NOLOGIN;

-- A trigger function anyone may execute, to try CREATE TRIGGER with.
CREATE FUNCTION probe.noop() RETURNS trigger LANGUAGE plpgsql
AS $$BEGIN RETURN NULL; END$$;

--
-- A role without grants reaches nothing.  The list is every member of
-- schema enrollment, not only those privileges.sql names: a member added
-- later fails this test and the next until its privileges are decided.
--
SET ROLE nobody;
SELECT results_eq(
	$$SELECT member, (probe.try(stmt, 'public')).state FROM probe.members ORDER BY 1$$,
	$$VALUES ('enrollment.apply_payment(text,text,numeric,text)', '42501'),
			 ('enrollment.apply_payments(jsonb)', '42501'),
			 ('enrollment.cancel_enrollment(text,text,text)', '42501'),
			 ('enrollment.change_price(text,text,numeric,text)', '42501'),
			 ('enrollment.check_event_slot(name)', '42501'),
			 ('enrollment.confirm_events(name,pg_lsn)', '42501'),
			 ('enrollment.create_event_slot(name)', '42501'),
			 ('enrollment.currencies', '42501'),
			 ('enrollment.drop_event_slot(name)', '42501'),
			 ('enrollment.enroll(text,text,numeric,text)', '42501'),
			 ('enrollment.enrollments', '42501'),
			 ('enrollment.event_slots', '42501'),
			 ('enrollment.history(text,text)', '42501'),
			 ('enrollment.import_enrollment(text,text,numeric,numeric,text,timestamp with time zone)', '42501'),
			 ('enrollment.pay_remaining_balance(text,text,text,numeric)', '42501'),
			 ('enrollment.payments', '42501'),
			 ('enrollment.payments_payment_id_seq', '42501'),
			 ('enrollment.read_events(name,integer)', '42501'),
			 ('enrollment.refund_payment(text,text,numeric,text,text)', '42501'),
			 ('enrollment.refuse_ledger_change()', '42501'),
			 ('enrollment.verify()', '42501')$$,
	'nobody: every function, table and sequence of the extension raises 42501');
RESET ROLE;

--
-- The grant recipe: the granted functions run (22004: NULL arguments reach
-- the function), the tables can be read, nothing else
--
SET ROLE app;
SELECT results_eq(
	$$SELECT member, (probe.try(stmt, 'public')).state FROM probe.members ORDER BY 1$$,
	$$VALUES ('enrollment.apply_payment(text,text,numeric,text)', '22004'),
			 ('enrollment.apply_payments(jsonb)', '22004'),
			 ('enrollment.cancel_enrollment(text,text,text)', '42501'),
			 ('enrollment.change_price(text,text,numeric,text)', '42501'),
			 ('enrollment.check_event_slot(name)', '42501'),
			 ('enrollment.confirm_events(name,pg_lsn)', '42501'),
			 ('enrollment.create_event_slot(name)', '42501'),
			 ('enrollment.currencies', '00000'),
			 ('enrollment.drop_event_slot(name)', '42501'),
			 ('enrollment.enroll(text,text,numeric,text)', '22004'),
			 ('enrollment.enrollments', '00000'),
			 ('enrollment.event_slots', '42501'),
			 ('enrollment.history(text,text)', '22004'),
			 ('enrollment.import_enrollment(text,text,numeric,numeric,text,timestamp with time zone)', '42501'),
			 ('enrollment.pay_remaining_balance(text,text,text,numeric)', '22004'),
			 ('enrollment.payments', '00000'),
			 ('enrollment.payments_payment_id_seq', '42501'),
			 ('enrollment.read_events(name,integer)', '42501'),
			 ('enrollment.refund_payment(text,text,numeric,text,text)', '42501'),
			 ('enrollment.refuse_ledger_change()', '42501'),
			 ('enrollment.verify()', '42501')$$,
	'app: the granted functions run, the tables are readable; the back-office and migration functions, verify(), the sequence and the trigger function are denied');

-- The recipe of docs/events.md for a consumer of the events: the two readers'
-- functions run, nothing else does
RESET ROLE;
CREATE ROLE event_reader NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO event_reader;
GRANT EXECUTE ON FUNCTION enrollment.read_events(name, integer),
    enrollment.confirm_events(name, pg_lsn) TO event_reader;
SET ROLE event_reader;
SELECT results_eq(
	$$SELECT member, (probe.try(stmt, 'public')).state FROM probe.members
	   WHERE (probe.try(stmt, 'public')).state <> '42501' ORDER BY 1$$,
	$$VALUES ('enrollment.confirm_events(name,pg_lsn)', '22004'),
			 ('enrollment.read_events(name,integer)', '22004')$$,
	'event_reader: read_events() and confirm_events() run; every other function, table and sequence raises 42501');
RESET ROLE;
SET ROLE app;

SELECT throws_ok($$TRUNCATE enrollment.payments$$, '42501', NULL,
	'app: TRUNCATE payments is denied');
SELECT throws_ok($$MERGE INTO enrollment.payments p USING (VALUES (1)) v (x) ON true
				   WHEN MATCHED THEN DELETE$$, '42501', NULL,
	'app: MERGE ... DELETE into payments is denied');
SELECT throws_ok($$UPDATE enrollment.currencies SET minor_unit = 0$$, '42501', NULL,
	'app: UPDATE currencies is denied');
SELECT throws_ok($$DELETE FROM enrollment.currencies$$, '42501', NULL,
	'app: DELETE FROM currencies is denied');
SELECT throws_ok($$TRUNCATE enrollment.currencies$$, '42501', NULL,
	'app: TRUNCATE currencies is denied');
SELECT throws_ok($$SELECT FROM enrollment.enrollments FOR NO KEY UPDATE$$, '42501', NULL,
	'app: cannot lock enrollment rows (SELECT ... FOR NO KEY UPDATE)');
SELECT throws_ok($$LOCK TABLE enrollment.enrollments IN ACCESS EXCLUSIVE MODE$$, '42501', NULL,
	'app: cannot LOCK enrollments IN ACCESS EXCLUSIVE MODE');
SELECT throws_ok(
	$$SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('enrollment.payments', 'payment_id'), 1)$$,
	'42501', NULL,
	'app: setval() on the payments sequence is denied');
SELECT throws_ok($$ALTER SEQUENCE enrollment.payments_payment_id_seq RESTART$$, '42501', NULL,
	'app: ALTER SEQUENCE ... RESTART is denied');
SELECT throws_ok($$ALTER TABLE enrollment.payments DISABLE TRIGGER payments_append_only$$,
	'42501', NULL,
	'app: cannot disable the append-only trigger');
SELECT throws_ok($$DROP TRIGGER payments_append_only ON enrollment.payments$$, '42501', NULL,
	'app: cannot drop the append-only trigger');
SELECT throws_ok(
	$$CREATE TRIGGER t BEFORE INSERT ON enrollment.payments
	  FOR EACH ROW EXECUTE FUNCTION probe.noop()$$,
	'42501', NULL,
	'app: cannot add a trigger to payments (it would run inside the functions)');
SELECT throws_ok($$ALTER TYPE enrollment.payment_status ADD VALUE 'refunded'$$, '42501', NULL,
	'app: cannot add a value to payment_status');
SELECT throws_ok(
	$$CREATE FUNCTION enrollment.apply_payment(text, text, numeric) RETURNS void
	  LANGUAGE sql AS ''$$,
	'42501', NULL,
	'app: cannot create an overload of apply_payment() in schema enrollment');
SELECT throws_ok(
	$$ALTER FUNCTION enrollment.apply_payment(text, text, numeric, text) RESET search_path$$,
	'42501', NULL,
	'app: cannot unpin the search_path of apply_payment()');
SELECT throws_ok($$DROP EXTENSION enrollment$$, '42501', NULL,
	'app: cannot drop the extension');
RESET ROLE;

--
-- A hostile search_path.  app, given CREATE on the database, fills a schema
-- of its own, and later its temporary schema, with traps: tables and a type
-- named like the extension's, functions named like the extension's and like
-- pg_catalog functions the code could resolve by name, and operators on the
-- types it uses.  A trap that runs records itself in hostile.calls.  app
-- then makes the same calls with the default path and with hostile ones;
-- each run uses its own name as user_id.
--
CREATE FUNCTION probe.create_traps(schema text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
	t record;
	n int := 0;
BEGIN
	EXECUTE format('CREATE TYPE %I.payment_status AS ENUM (''paid'', ''partial'', ''pending'')',
				   schema);
	FOR t IN SELECT unnest(ARRAY['enrollments', 'payments', 'currencies']) AS name LOOP
		EXECUTE format('CREATE TABLE %I.%I (LIKE enrollment.%I)', schema, t.name, t.name);
	END LOOP;
	FOR t IN SELECT * FROM (VALUES
			('enroll', 'text, text, numeric, text', 'text'),
			('apply_payment', 'text, text, numeric, text', 'text'),
			('pay_remaining_balance', 'text, text, text, numeric', 'text'),
			('apply_payments', 'jsonb', 'text'),
			('refuse_ledger_change', '', 'text'),
			('now', '', 'timestamptz'),
			('clock_timestamp', '', 'timestamptz'),
			('statement_timestamp', '', 'timestamptz'),
			('transaction_timestamp', '', 'timestamptz'),
			('session_user', '', 'name'),
			('current_user', '', 'name'),
			('current_schema', '', 'name'),
			('getpgusername', '', 'name'),
			('lower', 'text', 'text'),
			('upper', 'text', 'text'),
			('btrim', 'text', 'text'),
			('length', 'text', 'integer'),
			('char_length', 'text', 'integer'),
			('octet_length', 'text', 'integer'),
			('round', 'numeric', 'numeric'),
			('round', 'numeric, integer', 'numeric'),
			('trunc', 'numeric, integer', 'numeric'),
			('abs', 'numeric', 'numeric'),
			('scale', 'numeric', 'integer'),
			('min_scale', 'numeric', 'integer'),
			('numeric_add', 'numeric, numeric', 'numeric'),
			('numeric_sub', 'numeric, numeric', 'numeric'),
			('numeric_mul', 'numeric, numeric', 'numeric'),
			('numeric_eq', 'numeric, numeric', 'boolean'),
			('numeric_cmp', 'numeric, numeric', 'integer'),
			('int8', 'numeric', 'bigint'),
			('texteq', 'text, text', 'boolean'),
			('nextval', 'regclass', 'bigint'),
			('jsonb_typeof', 'jsonb', 'text'),
			('jsonb_array_length', 'jsonb', 'integer'))
			AS f (name, args, returns) LOOP
		EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE sql AS %L',
					   schema, t.name, t.args, t.returns,
					   format('SELECT hostile.trap(%L)::%s',
							  format('%s.%s(%s)', schema, t.name, t.args), t.returns));
	END LOOP;
	FOR t IN SELECT * FROM (VALUES
			('=', 'numeric', 'numeric', 'boolean'),
			('<>', 'numeric', 'numeric', 'boolean'),
			('<', 'numeric', 'numeric', 'boolean'),
			('<=', 'numeric', 'numeric', 'boolean'),
			('>', 'numeric', 'numeric', 'boolean'),
			('>=', 'numeric', 'numeric', 'boolean'),
			('+', 'numeric', 'numeric', 'numeric'),
			('-', 'numeric', 'numeric', 'numeric'),
			('*', 'numeric', 'numeric', 'numeric'),
			('=', 'text', 'text', 'boolean'),
			('~', 'text', 'text', 'boolean'),
			('||', 'text', 'text', 'text'),
			('=', 'name', 'name', 'boolean'),
			('=', 'bigint', 'bigint', 'boolean'),
			('->>', 'jsonb', 'text', 'text'),
			('=', 'enrollment.payment_status', 'enrollment.payment_status', 'boolean'))
			AS o (op, leftarg, rightarg, returns) LOOP
		n := n + 1;
		EXECUTE format('CREATE FUNCTION %I.trap_op_%s(%s, %s) RETURNS %s LANGUAGE sql AS %L',
					   schema, n, t.leftarg, t.rightarg, t.returns,
					   format('SELECT hostile.trap(%L)::%s',
							  format('%s.%s (%s, %s)', schema, t.op, t.leftarg, t.rightarg),
							  t.returns));
		EXECUTE format('CREATE OPERATOR %I.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %I.trap_op_%s)',
					   schema, t.op, t.leftarg, t.rightarg, schema, n);
	END LOOP;
END $$;

-- What went wrong after a run: traps that ran, and tables named like the
-- extension's, outside schema enrollment, that are not empty.
CREATE FUNCTION probe.trap_hits() RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
	t regclass;
BEGIN
	RETURN QUERY SELECT name FROM hostile.calls;
	FOR t IN SELECT c.oid FROM pg_class c
			  WHERE c.relname IN ('enrollments', 'payments', 'currencies')
				AND c.relnamespace <> 'enrollment'::regnamespace LOOP
		RETURN QUERY EXECUTE format('SELECT %L || '' has rows'' FROM %s HAVING count(*) > 0',
									t::text, t);
	END LOOP;
END $$;

-- The calls of each run, in order; %1$s is the run's user_id.
CREATE TABLE probe.calls (
	step int GENERATED ALWAYS AS IDENTITY,
	stmt text NOT NULL
);
INSERT INTO probe.calls (stmt) VALUES
	($$SELECT * FROM enrollment.enroll('%1$s', 'math', 100.00)$$),
	($$SELECT * FROM enrollment.enroll('%1$s', 'art', 5000, 'JPY')$$),
	($$SELECT * FROM enrollment.enroll('%1$s', 'free', 0, 'KWD')$$),
	($$SELECT * FROM enrollment.enroll('%1$s', 'math', 100.00)$$),
	($$SELECT * FROM enrollment.enroll('%1$s', 'chem', 10, 'usd')$$),
	($$SELECT * FROM enrollment.enroll('%1$s', 'chem', 10.001)$$),
	($$SELECT * FROM enrollment.enroll('%1$s', NULL, 10)$$),
	($$SELECT * FROM enrollment.enroll('%1$s', 'chem ', 10)$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'math', 25.5, 'k1')$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'math', 25.50, 'k1')$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'math', 30, 'k1')$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'math', 0.001)$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'math', 'NaN')$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'math', 74.51)$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'history', 1)$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'art', 1000)$$),
	($$SELECT * FROM enrollment.pay_remaining_balance('%1$s', 'math', 'k2', 74.00)$$),
	($$SELECT * FROM enrollment.pay_remaining_balance('%1$s', 'math', 'k2', 74.50)$$),
	($$SELECT * FROM enrollment.pay_remaining_balance('%1$s', 'math', 'k2', 74.50)$$),
	($$SELECT * FROM enrollment.pay_remaining_balance('%1$s', 'math')$$),
	($$SELECT * FROM enrollment.apply_payment('%1$s', 'free', 1)$$),
	($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "%1$s", "course_id": "art", "amount": 100, "idempotency_key": "k3"},
		{"user_id": "%1$s", "course_id": "art", "amount": 200},
		{"user_id": "%1$s", "course_id": "math", "amount": 25.5, "idempotency_key": "k1"}]')$$),
	($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "%1$s", "course_id": "art", "amount": 1},
		{"user_id": "%1$s", "course_id": "art", "amount": "1"}]')$$),
	($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "%1$s", "course_id": "art", "amount": 1},
		{"user_id": "%1$s", "course_id": "art", "amount": 9999}]')$$),
	($$SELECT * FROM enrollment.apply_payments('[]')$$),
	($$SELECT * FROM enrollment.apply_payments('{}')$$),
	($$SELECT * FROM enrollment.apply_payments(NULL)$$);

CREATE TABLE probe.outcomes (
	run text,
	step int,
	state text,
	message text,
	detail text,
	result jsonb
);
GRANT SELECT ON probe.calls TO PUBLIC;
GRANT SELECT, INSERT ON probe.outcomes TO PUBLIC;

-- Make every call of probe.calls as run_name with the given search_path.
CREATE FUNCTION probe.run(run_name text, path text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT step, stmt FROM probe.calls ORDER BY step LOOP
		INSERT INTO probe.outcomes
			SELECT run_name, c.step, t.*
			  FROM probe.try(format(c.stmt, run_name), path) t;
	END LOOP;
END $$;

-- A run's outcomes without what differs between runs: the user_id, the
-- payment ids and the timestamps (checked against the ledger below).
CREATE FUNCTION probe.outcome(run_name text)
RETURNS TABLE (step int, state text, message text, detail text, result text)
LANGUAGE sql SET search_path = pg_catalog AS $$
	SELECT o.step, o.state, o.message, replace(o.detail, run_name, '<user>'),
		   (SELECT jsonb_agg(r - ARRAY['user_id', 'payment_id', 'created_at',
									   'updated_at', 'paid_at'] ORDER BY n)::text
			  FROM jsonb_array_elements(o.result) WITH ORDINALITY AS e (r, n))
	  FROM probe.outcomes o
	 WHERE o.run = run_name
	 ORDER BY o.step
$$;

-- A run's enrollments and ledger rows, likewise.
CREATE FUNCTION probe.state(run_name text)
RETURNS TABLE (kind text, n bigint, row_text text)
LANGUAGE sql SET search_path = pg_catalog AS $$
	SELECT 'enrollment', row_number() OVER (ORDER BY course_id),
		   concat_ws(' ', course_id, currency, price, amount_paid, amount_due, status,
					 CASE WHEN paid_at IS NULL THEN 'unpaid' ELSE 'paid_at' END)
	  FROM enrollment.enrollments
	 WHERE user_id = run_name
	UNION ALL
	SELECT 'payment', row_number() OVER (ORDER BY payment_id),
		   concat_ws(' ', course_id, amount, idempotency_key, amount_paid_after,
					 amount_due_after, status_after,
					 CASE WHEN created_by = session_user THEN 'by session_user' END)
	  FROM enrollment.payments
	 WHERE user_id = run_name
	 ORDER BY 1, 2
$$;

-- A statement that resolves names through the path, to show that the
-- traps are reachable from it.
CREATE FUNCTION probe.spring_traps(path text) RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	PERFORM probe.try($q$SELECT now(), 1.5 + 1.5, lower('X'),
							apply_payment('x', 'y', 1, 'k'),
							'paid'::enrollment.payment_status = 'paid'$q$, path);
	RETURN QUERY SELECT name FROM hostile.calls;
	DELETE FROM hostile.calls;
END $$;

-- The hostile runs: user_id, search_path, and the traps that a statement
-- with unqualified names reaches under that path.
CREATE VIEW probe.hostile_runs (run, path, reachable) AS VALUES
	('path_a', 'hostile, pg_catalog, public',
	 ARRAY['hostile.now()', 'hostile.+ (numeric, numeric)', 'hostile.lower(text)',
		   'hostile.apply_payment(text, text, numeric, text)',
		   'hostile.= (enrollment.payment_status, enrollment.payment_status)']),
	-- pg_catalog implicitly first: only new names and exact matches where
	-- pg_catalog has none
	('path_b', 'hostile, public',
	 ARRAY['hostile.apply_payment(text, text, numeric, text)',
		   'hostile.= (enrollment.payment_status, enrollment.payment_status)']),
	-- pg_temp is never searched for functions and operators
	('path_c', 'pg_temp, hostile, public',
	 ARRAY['hostile.apply_payment(text, text, numeric, text)',
		   'hostile.= (enrollment.payment_status, enrollment.payment_status)']);
GRANT SELECT ON probe.hostile_runs TO PUBLIC;

DO $$
BEGIN
	EXECUTE format('GRANT CREATE ON DATABASE %I TO app', current_database());
END $$;

SET ROLE app;
CREATE SCHEMA hostile;
CREATE TABLE hostile.calls (name text);
CREATE FUNCTION hostile.trap(name text) RETURNS text LANGUAGE sql
AS $$INSERT INTO hostile.calls VALUES (name) RETURNING NULL::text$$;
SELECT probe.create_traps('hostile');

SELECT probe.run('normal', '"$user", public');
-- then traps in the temporary schema too, which the functions' pinned
-- search_path (pg_catalog, pg_temp) includes whatever the caller's path
SELECT probe.create_traps('pg_temp');
SELECT probe.run(run, path) FROM probe.hostile_runs;

SELECT results_eq(
	$$SELECT step, state FROM probe.outcome('normal')$$,
	$$VALUES (1, '00000'), (2, '00000'), (3, '00000'), (4, '23E01'), (5, '22E02'),
			 (6, '22E01'), (7, '22004'), (8, '22E03'), (9, '00000'), (10, '00000'),
			 (11, '23E04'), (12, '22E01'), (13, '22E01'), (14, '23E03'), (15, '23E02'),
			 (16, '00000'), (17, '55E02'), (18, '00000'), (19, '00000'), (20, '55E01'),
			 (21, '55E01'), (22, '00000'), (23, '22E04'), (24, '23E03'), (25, '00000'),
			 (26, '22E04'), (27, '22004')$$,
	'default path: every call succeeds or fails with its documented SQLSTATE');
SELECT results_eq(
	$$SELECT kind, row_text FROM probe.state('normal')$$,
	$$VALUES ('enrollment', 'art JPY 5000 1300 3700 partial unpaid'),
			 ('enrollment', 'free KWD 0.000 0.000 0.000 paid paid_at'),
			 ('enrollment', 'math USD 100.00 100.00 0.00 paid paid_at'),
			 ('payment', 'math 25.50 k1 25.50 74.50 partial by session_user'),
			 ('payment', 'art 1000 1000 4000 partial by session_user'),
			 ('payment', 'math 74.50 k2 100.00 0.00 paid by session_user'),
			 ('payment', 'art 100 k3 1100 3900 partial by session_user'),
			 ('payment', 'art 200 1300 3700 partial by session_user')$$,
	'default path: the enrollments and the ledger hold what the calls did');
SELECT results_eq(format('SELECT * FROM probe.outcome(%L)', run),
	$$SELECT * FROM probe.outcome('normal')$$,
	format('search_path %s: the same results and errors as the default path', path))
  FROM probe.hostile_runs;
SELECT results_eq(format('SELECT kind, row_text FROM probe.state(%L)', run),
	$$SELECT kind, row_text FROM probe.state('normal')$$,
	format('search_path %s: the same enrollments and ledger rows', path))
  FROM probe.hostile_runs;
SELECT is_empty($$SELECT * FROM probe.trap_hits()$$,
	'no run made a trap run; the hostile and temporary tables are empty');

-- The traps are armed: reachable from a statement, and from the functions'
-- own search_path if they used unqualified names.
SELECT set_eq(format('SELECT * FROM probe.spring_traps(%L)', path),
	format('SELECT unnest(%L::text[])', reachable),
	format('search_path %s: unqualified names in a statement reach the traps', path))
  FROM probe.hostile_runs;
SELECT is((probe.try($$SELECT 'paid'::payment_status FROM enrollments, payments, currencies$$,
					  'pg_catalog, pg_temp')).state,
	'00000',
	'search_path pg_catalog, pg_temp: unqualified names reach the temporary traps');

-- Every payment a run returned, replays included, is its ledger row.
SELECT is_empty(
	$$SELECT o.run, o.step, r
		FROM probe.outcomes o, jsonb_array_elements(o.result) r
	   WHERE r ? 'payment_id'
		 AND r - 'replayed' IS DISTINCT FROM
			 (SELECT jsonb_build_object('payment_id', p.payment_id, 'user_id', p.user_id,
					 'course_id', p.course_id, 'amount', p.amount,
					 'amount_paid', p.amount_paid_after, 'amount_due', p.amount_due_after,
					 'status', p.status_after, 'created_at', p.created_at)
				FROM enrollment.payments p
			   WHERE p.payment_id = (r ->> 'payment_id')::bigint)$$,
	'every run: each returned payment_id, amount and created_at is that of its ledger row');
RESET ROLE;

--
-- The ledger is append-only on the paths around a plain UPDATE, DELETE and
-- TRUNCATE (privileges.sql tests those), for the superuser running this
-- file and for a non-superuser owner
--
SELECT throws_ok(
	$$MERGE INTO enrollment.payments p USING (VALUES ('normal')) v (u) ON p.user_id = v.u
	  WHEN MATCHED THEN DELETE$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: MERGE ... DELETE on payments raises 23E05');
SELECT throws_ok(
	$$MERGE INTO enrollment.payments p USING (VALUES ('normal')) v (u) ON p.user_id = v.u
	  WHEN MATCHED THEN UPDATE SET amount = 1$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: MERGE ... UPDATE on payments raises 23E05');
SELECT throws_ok(
	$$INSERT INTO enrollment.payments
		(user_id, course_id, amount, idempotency_key, amount_paid_after,
		 amount_due_after, status_after, created_at, created_by)
	  VALUES ('normal', 'math', 1, 'k1', 1, 99, 'partial', now(), current_user)
	  ON CONFLICT (user_id, idempotency_key) DO UPDATE SET amount = 1$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: INSERT ... ON CONFLICT DO UPDATE on payments raises 23E05');
CREATE VIEW probe.ledger AS SELECT * FROM enrollment.payments;
SELECT throws_ok($$UPDATE probe.ledger SET amount = 1$$,
	'23E05', 'the payment ledger is append-only',
	'superuser: UPDATE through a view of payments raises 23E05');
SELECT throws_ok($$UPDATE enrollment.enrollments SET user_id = 'renamed' WHERE user_id = 'normal'$$,
	'23503', NULL,
	'superuser: renaming an enrollment with ledger rows is refused (23503)');

CREATE ROLE ledger_owner NOLOGIN;
GRANT USAGE ON SCHEMA enrollment TO ledger_owner;
ALTER TABLE enrollment.payments OWNER TO ledger_owner;
SET ROLE ledger_owner;
SELECT throws_ok($$UPDATE enrollment.payments SET amount = amount$$,
	'23E05', 'the payment ledger is append-only',
	'non-superuser owner: UPDATE payments raises 23E05');
SELECT throws_ok($$DELETE FROM enrollment.payments$$,
	'23E05', 'the payment ledger is append-only',
	'non-superuser owner: DELETE FROM payments raises 23E05');
SELECT throws_ok($$TRUNCATE enrollment.payments$$,
	'23E05', 'the payment ledger is append-only',
	'non-superuser owner: TRUNCATE payments raises 23E05');
RESET ROLE;

SELECT is((SELECT count(*) FROM enrollment.payments), 20::bigint,
	'the ledger still holds the 20 rows of the four runs');

--
-- enrollment.events is wal unless changed, and an application role can
-- change it neither to off nor to notify; GRANT SET ON PARAMETER hands it
-- to a DBA role
--
SELECT is((SELECT boot_val || ', ' || context FROM pg_catalog.pg_settings
			WHERE name = 'enrollment.events'),
	'wal, superuser', 'enrollment.events is wal by default and a superuser setting');
SET ROLE app;
SELECT throws_ok($$SET enrollment.events = off$$, '42501', NULL,
	'app: SET enrollment.events = off raises 42501');
SELECT throws_ok($$SET enrollment.events = notify$$, '42501', NULL,
	'app: SET enrollment.events = notify raises 42501');
RESET ROLE;
CREATE ROLE events_admin NOLOGIN;
GRANT SET ON PARAMETER enrollment.events TO events_admin;
SET ROLE events_admin;
SELECT lives_ok($$SET LOCAL enrollment.events = off$$,
	'a role granted SET ON PARAMETER enrollment.events turns events off');
RESET ROLE;
RESET enrollment.events;

SELECT * FROM finish();
ROLLBACK;
