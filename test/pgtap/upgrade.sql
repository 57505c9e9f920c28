-- upgrade.sql: version 1.0 with data, updated to 1.1 in one transaction:
-- every row kept, the invariants hold, the new objects are there, and the
-- functions work on the old rows; they store the new statuses as SQL does.
-- Run by pg_prove as a superuser in a database with pgtap and enrollment
-- installed; everything is rolled back.
BEGIN;
SELECT plan(15);

DROP EXTENSION enrollment;
CREATE EXTENSION enrollment VERSION '1.0';
SELECT is((SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'1.0', 'version 1.0 is installed');
SELECT hasnt_column('enrollment', 'payments', 'kind', '1.0: the ledger has no kind');

SELECT lives_ok($$
	SELECT count(enrollment.enroll('user-' || i, 'course', 100)) FROM generate_series(1, 30) i;
	SELECT count(enrollment.apply_payment('user-' || i, 'course', i, 'key-' || i))
	  FROM generate_series(1, 30) i;
	SELECT enrollment.pay_remaining_balance('user-1', 'course', 'rest-1')$$,
	'1.0: 30 enrollments, 31 payments');
CREATE TEMP TABLE before_update AS
	SELECT (SELECT array_agg(e ORDER BY e.user_id) FROM enrollment.enrollments e)::text AS enrollments,
		   (SELECT array_agg((p.payment_id, p.user_id, p.course_id, p.amount, p.idempotency_key,
							  p.amount_paid_after, p.amount_due_after, p.status_after,
							  p.created_at, p.created_by) ORDER BY p.payment_id)
			  FROM enrollment.payments p)::text AS payments;

ALTER EXTENSION enrollment UPDATE TO '1.1';
SELECT is((SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'enrollment'),
	'1.1', 'updated to 1.1');
SELECT is(
	(SELECT array_agg(e ORDER BY e.user_id) FROM enrollment.enrollments e)::text,
	(SELECT enrollments FROM before_update),
	'every enrollment is kept as it was');
SELECT is(
	(SELECT array_agg((p.payment_id, p.user_id, p.course_id, p.amount, p.idempotency_key,
					   p.amount_paid_after, p.amount_due_after, p.status_after,
					   p.created_at, p.created_by) ORDER BY p.payment_id)
	   FROM enrollment.payments p)::text,
	(SELECT payments FROM before_update),
	'every ledger row is kept as it was');
SELECT results_eq(
	$$SELECT kind::text, count(*) FROM enrollment.payments GROUP BY 1$$,
	$$VALUES ('payment', 31::bigint)$$,
	'the rows written by 1.0 are payments');
SELECT is_empty($$SELECT * FROM enrollment.verify()$$,
	'verify(): every enrollment agrees with its ledger');
SELECT enum_has_labels('enrollment', 'payment_status',
	ARRAY['pending', 'partial', 'paid', 'cancelled', 'refunded'],
	'the statuses of 1.1');
SELECT col_not_null('enrollment', 'payments', 'kind', 'the ledger has a kind');
SELECT is((SELECT replayed FROM enrollment.apply_payment('user-5', 'course', 5, 'key-5')),
	true, 'a key paid under 1.0 replays under 1.1');
SELECT is((SELECT status::text FROM enrollment.refund_payment('user-5', 'course', 2)),
	'partial', 'an enrollment paid under 1.0 takes a refund');
-- The functions store the statuses the update added as SQL does.  SQL
-- refuses them before the update commits (55P04), except, from PostgreSQL
-- 17 on, when the type was created in the same transaction, as here.
CREATE FUNCTION pg_temp.sql_refuses_new_statuses() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM CAST('cancelled' AS enrollment.payment_status);
	RETURN false;
EXCEPTION
	WHEN unsafe_new_enum_value_usage THEN RETURN true;
END
$$;
SELECT CASE WHEN pg_temp.sql_refuses_new_statuses() THEN
	throws_ok($$SELECT enrollment.refund_payment('user-5', 'course', 3)$$,
		'55P04', NULL, 'in the updating transaction, a refund of the rest raises 55P04 as SQL does')
ELSE
	lives_ok($$SELECT enrollment.refund_payment('user-5', 'course', 3)$$,
		'in the updating transaction, a refund of the rest works as SQL does')
END;
SELECT CASE WHEN pg_temp.sql_refuses_new_statuses() THEN
	throws_ok($$SELECT enrollment.cancel_enrollment('user-6', 'course')$$,
		'55P04', NULL, 'in the updating transaction, a cancellation raises 55P04 as SQL does')
ELSE
	lives_ok($$SELECT enrollment.cancel_enrollment('user-6', 'course')$$,
		'in the updating transaction, a cancellation works as SQL does')
END;
SELECT is_empty($$SELECT * FROM enrollment.verify()$$,
	'verify(): still nothing after the new events');

SELECT * FROM finish();
ROLLBACK;
