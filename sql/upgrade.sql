--
-- Upgrading from 1.0 to 1.1 with data in place.
--
CREATE EXTENSION enrollment VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'enrollment';

-- the library serves databases still on 1.0 as 1.0
SELECT count(enrollment.enroll('user-' || i, 'course', 100)) FROM generate_series(1, 20) i;
SELECT count(enrollment.apply_payment('user-' || i, 'course', i, 'key-' || i))
  FROM generate_series(1, 20) i;
SELECT status, count(*) FROM enrollment.pay_remaining_balance('user-1', 'course')
 GROUP BY 1;
SELECT count(*) FROM enrollment.apply_payments('[
	{"user_id": "user-2", "course_id": "course", "amount": 1, "idempotency_key": "batch-1"},
	{"user_id": "user-3", "course_id": "course", "amount": 2}]');
SET enrollment.events = notify;
LISTEN enrollment_events;	-- 1.0 sends none: nothing is printed below
SELECT replayed FROM enrollment.apply_payment('user-4', 'course', 4, 'key-4');
SELECT amount_paid FROM enrollment.apply_payment('user-4', 'course', 1);
UNLISTEN enrollment_events;
RESET enrollment.events;

-- the C code of a 1.1 function, reached on 1.0, refuses (0A000)
CREATE FUNCTION pg_temp.cancel_enrollment(text, text, text DEFAULT NULL)
RETURNS enrollment.enrollments AS 'enrollment', 'cancel_enrollment' LANGUAGE C;
SELECT status FROM pg_temp.cancel_enrollment('user-6', 'course');
\set VERBOSITY sqlstate
SELECT status FROM pg_temp.cancel_enrollment('user-6', 'course');
\set VERBOSITY default
DROP FUNCTION pg_temp.cancel_enrollment(text, text, text);
SELECT status FROM enrollment.enrollments WHERE user_id = 'user-6';

CREATE TEMP TABLE before_upgrade AS
SELECT (SELECT string_agg(e::text, ';' ORDER BY user_id) FROM enrollment.enrollments e) AS enrollments,
	   (SELECT string_agg((p.payment_id, p.user_id, p.course_id, p.amount, p.idempotency_key,
						   p.amount_paid_after, p.amount_due_after, p.status_after,
						   p.created_at, p.created_by)::text, ';' ORDER BY payment_id)
		  FROM enrollment.payments p) AS payments;

ALTER EXTENSION enrollment UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'enrollment';

-- every row kept, unchanged; the 1.0 ledger rows are payments
SELECT (SELECT string_agg(e::text, ';' ORDER BY user_id) FROM enrollment.enrollments e)
	   = enrollments AS enrollments_kept,
	   (SELECT string_agg((p.payment_id, p.user_id, p.course_id, p.amount, p.idempotency_key,
						   p.amount_paid_after, p.amount_due_after, p.status_after,
						   p.created_at, p.created_by)::text, ';' ORDER BY payment_id)
		  FROM enrollment.payments p) = payments AS payments_kept
  FROM before_upgrade;
SELECT kind, count(*), count(reason) AS reasons FROM enrollment.payments GROUP BY 1;
SELECT * FROM enrollment.verify();
SELECT enum_range(NULL::enrollment.payment_status);

-- keys made under 1.0 still replay, and the new functions work on old rows
SELECT amount, amount_paid, replayed FROM enrollment.apply_payment('user-5', 'course', 5, 'key-5');
SELECT amount, amount_paid, status FROM enrollment.refund_payment('user-5', 'course', 5, 'refund-5');
SELECT status FROM enrollment.cancel_enrollment('user-6', 'course');
SELECT status FROM enrollment.change_price('user-7', 'course', 7);
SELECT count(*) FROM enrollment.history('user-5', 'course');
SELECT * FROM enrollment.verify();

-- the constraints of 1.1 hold on the upgraded tables
\set VERBOSITY terse
UPDATE enrollment.enrollments SET status = 'refunded'
 WHERE user_id = 'user-8';
\set VERBOSITY default

DROP EXTENSION enrollment;

-- In the transaction that updates from 1.0, the statuses added by the
-- update cannot be stored before it commits: refused as SQL refuses them
-- (55P04).  The rest works.  Version 1.0 is installed before, in a
-- transaction of its own: from PostgreSQL 17 on, values added to an enum
-- created in the same transaction can be used at once.
CREATE EXTENSION enrollment VERSION '1.0';
SELECT status FROM enrollment.enroll('user-1', 'course', 100);
SELECT status FROM enrollment.apply_payment('user-1', 'course', 10);
BEGIN;
ALTER EXTENSION enrollment UPDATE TO '1.1';
SAVEPOINT before_event;
SELECT status FROM enrollment.cancel_enrollment('user-1', 'course');
ROLLBACK TO before_event;
SELECT status FROM enrollment.refund_payment('user-1', 'course', 10);
ROLLBACK TO before_event;
UPDATE enrollment.enrollments SET status = 'cancelled';
ROLLBACK TO before_event;
SELECT amount_paid, status FROM enrollment.refund_payment('user-1', 'course', 4);
SELECT status FROM enrollment.change_price('user-1', 'course', 50);
COMMIT;
SELECT status FROM enrollment.cancel_enrollment('user-1', 'course');
SELECT kind, amount, status_after FROM enrollment.history('user-1', 'course');
SELECT * FROM enrollment.verify();
DROP EXTENSION enrollment;

-- a fresh install creates the type with every status: usable at once
BEGIN;
CREATE EXTENSION enrollment;
SELECT status FROM enrollment.enroll('user-1', 'course', 100);
SELECT status FROM enrollment.cancel_enrollment('user-1', 'course');
ROLLBACK;
