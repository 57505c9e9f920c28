-- sql: one statement, an atomic increment plus the ledger row; no
-- validation, no idempotency.  Variables: n (enrollments), course.
\set uid random(1, :n)
WITH u AS (
	UPDATE bench.sql_enrollments
	   SET amount_paid = amount_paid + 0.01, amount_due = amount_due - 0.01,
	       status = CASE WHEN amount_due - 0.01 = 0 THEN 'paid' ELSE 'partial' END::enrollment.payment_status,
	       updated_at = clock_timestamp(),
	       paid_at = CASE WHEN amount_due - 0.01 = 0 THEN clock_timestamp() END
	 WHERE user_id = 'u' || :uid AND course_id = :course
	RETURNING user_id, course_id, amount_paid, amount_due, status, updated_at)
INSERT INTO bench.sql_payments (user_id, course_id, amount, kind,
	amount_paid_after, amount_due_after, status_after, created_at, created_by)
SELECT user_id, course_id, 0.01, 'payment', amount_paid, amount_due, status,
       updated_at, session_user
  FROM u;
