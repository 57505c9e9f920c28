--
-- Version 1.1: refunds, cancellation and price changes (status.c).
--

-- Every event from every status.  Each case gets an enrollment of its own
-- (price 100.00) brought into the status, applies the event, and reports
-- the enrollment afterwards, or the refusal and whether both tables are
-- exactly as before.
CREATE FUNCTION lifecycle_case(status text, event text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	course text := status || ' / ' || event;
	before text;
	result text;
BEGIN
	PERFORM enrollment.enroll('lc', course, 100);
	IF status IN ('partial', 'cancelled', 'refunded') THEN
		PERFORM enrollment.apply_payment('lc', course, 40);
	ELSIF status = 'paid' THEN
		PERFORM enrollment.apply_payment('lc', course, 100);
	END IF;
	IF status = 'cancelled' THEN
		PERFORM enrollment.cancel_enrollment('lc', course);
	ELSIF status = 'refunded' THEN
		PERFORM enrollment.refund_payment('lc', course, 40);
	END IF;

	before := tables_checksum();
	result := outcome(format('SELECT enrollment.%s', format(event, quote_literal(course))));
	IF result = 'ok' THEN
		SELECT format('%s: paid %s, due %s, price %s', e.status, e.amount_paid,
					  e.amount_due, e.price)
		  INTO result
		  FROM enrollment.enrollments e
		 WHERE e.user_id = 'lc' AND e.course_id = course;
	ELSIF tables_checksum() = before THEN
		result := result || ' (nothing changed)';
	END IF;
	RETURN result;
END
$$;

SELECT s.status AS "from", e.event, lifecycle_case(s.status, e.event) AS result
  FROM unnest(ARRAY['pending', 'partial', 'paid', 'cancelled', 'refunded'])
	   WITH ORDINALITY s (status, i)
 CROSS JOIN unnest(ARRAY[
		'apply_payment(''lc'', %s, 10)',
		'pay_remaining_balance(''lc'', %s)',
		'refund_payment(''lc'', %s, 10)',
		'refund_payment(''lc'', %s, 40)',
		'refund_payment(''lc'', %s, 100)',
		'cancel_enrollment(''lc'', %s)',
		'change_price(''lc'', %s, 120)',
		'change_price(''lc'', %s, 40)',
		'change_price(''lc'', %s, 30)',
		'change_price(''lc'', %s, 0)'])
	   WITH ORDINALITY e (event, j)
 ORDER BY s.i, e.j;

-- what every case left is consistent with its ledger
SELECT count(*) AS enrollments, count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
	   count(*) FILTER (WHERE status = 'refunded') AS refunded
  FROM enrollment.enrollments WHERE user_id = 'lc';
SELECT * FROM enrollment.verify();

--
-- Refunds
--
SELECT status FROM enrollment.enroll('rita', 'sql-101', 200.00);
SELECT amount, amount_paid, amount_due, status, replayed
  FROM enrollment.apply_payment('rita', 'sql-101', 200.00, 'pay-1');

-- a refund returns the ledger row: amount is the change to amount_paid
SELECT amount, amount_paid, amount_due, status, replayed
  FROM enrollment.refund_payment('rita', 'sql-101', 50.00, 'refund-1', 'duplicate charge');
-- the same key again replays it
SELECT amount, amount_paid, amount_due, status, replayed
  FROM enrollment.refund_payment('rita', 'sql-101', 50, 'refund-1');
-- the key of a refund is not a payment's, nor the other way round (23E04)
SELECT outcome($$SELECT enrollment.apply_payment('rita', 'sql-101', 50, 'refund-1')$$);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'sql-101', 200, 'pay-1')$$);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'sql-101', 20, 'refund-1')$$);
-- paid_at went with the paid status; paying again brings it back
SELECT status, paid_at IS NOT NULL AS paid FROM enrollment.enrollments
 WHERE user_id = 'rita' AND course_id = 'sql-101';
SELECT status FROM enrollment.pay_remaining_balance('rita', 'sql-101');
SELECT status, paid_at = updated_at AS paid_now FROM enrollment.enrollments
 WHERE user_id = 'rita' AND course_id = 'sql-101';
-- refunding everything ends the enrollment
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.refund_payment('rita', 'sql-101', 200.00, reason => 'course withdrawn');
-- exact money: too many decimals, zero, negative (22E01)
SELECT status FROM enrollment.enroll('rita', 'go-201', 10.00);
SELECT status FROM enrollment.apply_payment('rita', 'go-201', 5);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'go-201', 1.001)$$);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'go-201', 0)$$);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'go-201', -1)$$);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'go-201', NULL)$$);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'go-201', 1, reason => repeat('x', 1001))$$);
SELECT outcome($$SELECT enrollment.refund_payment('rita', 'nope', 1)$$);

--
-- Cancellation and price changes
--
SELECT status FROM enrollment.enroll('carl', 'rust-301', 300.00);
SELECT status FROM enrollment.apply_payment('carl', 'rust-301', 120.00);
-- a coupon: the price drops to what was paid, the enrollment is paid
SELECT price, amount_paid, amount_due, status, paid_at = updated_at AS paid_now
  FROM enrollment.change_price('carl', 'rust-301', 120.00, 'coupon SPRING');
-- the same price again keeps it paid, and keeps the time it was paid
SELECT status, paid_at < updated_at AS paid_earlier
  FROM enrollment.change_price('carl', 'rust-301', 120.00);
-- cancelled: amounts stay, only refunds follow
SELECT price, amount_paid, amount_due, status, paid_at
  FROM enrollment.cancel_enrollment('carl', 'rust-301', 'changed plans');
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.refund_payment('carl', 'rust-301', 120.00);
SELECT outcome($$SELECT enrollment.change_price('carl', 'rust-301', -1)$$);
SELECT outcome($$SELECT enrollment.change_price('carl', 'rust-301', 1000000000001)$$);
SELECT outcome($$SELECT enrollment.change_price('carl', 'rust-301', NULL)$$);
SELECT outcome($$SELECT enrollment.cancel_enrollment(NULL, 'rust-301')$$);
SELECT outcome($$SELECT enrollment.cancel_enrollment('carl', '')$$);

-- the ledger explains every step, with kinds and reasons
SELECT kind, amount, idempotency_key, reason, amount_paid_after,
	   amount_due_after, status_after
  FROM enrollment.history('rita', 'sql-101');
SELECT kind, amount, reason, amount_paid_after, amount_due_after, status_after
  FROM enrollment.history('carl', 'rust-301');
SELECT count(*) FROM enrollment.history('carl', 'no-such-course');
SELECT outcome($$SELECT enrollment.history(NULL, 'rust-301')$$);

-- amount_paid is the sum of the ledger's amounts, for every enrollment
SELECT count(*) AS enrollments,
	   count(*) FILTER (WHERE e.amount_paid = coalesce(
			(SELECT sum(p.amount) FROM enrollment.payments p
			  WHERE p.user_id = e.user_id AND p.course_id = e.course_id), 0)) AS agree
  FROM enrollment.enrollments e;
SELECT * FROM enrollment.verify();

-- verify() finds what a superuser wrote around the functions
BEGIN;
UPDATE enrollment.enrollments SET amount_paid = 6, amount_due = 4
 WHERE user_id = 'rita' AND course_id = 'go-201';
SELECT * FROM enrollment.verify();
ROLLBACK;
