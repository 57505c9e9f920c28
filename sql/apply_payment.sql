--
-- apply_payment(): status follows the amounts, pending -> partial -> paid
--
SELECT price, status FROM enrollment.enroll('carol', 'db-301', 100.00);

SELECT payment_id > 0 AS has_id, user_id, course_id, amount, amount_paid,
       amount_due, status, replayed
  FROM enrollment.apply_payment('carol', 'db-301', 30);
SELECT * FROM balance('carol', 'db-301');

-- named arguments; decimals up to the currency's minor unit
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.apply_payment(user_id => 'carol', course_id => 'db-301',
                                amount => 0.01);

-- trailing zeros beyond the minor unit are not extra precision
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.apply_payment('carol', 'db-301', 9.990000);

-- paying exactly what is due makes it paid and sets paid_at
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.apply_payment('carol', 'db-301', 60);
SELECT * FROM balance('carol', 'db-301');

-- the ledger explains the balance, one row per payment
SELECT * FROM ledger('carol', 'db-301');
SELECT sum(amount) AS ledger_sum FROM enrollment.payments
 WHERE user_id = 'carol' AND course_id = 'db-301';

-- ledger rows carry the server clock and the session user, and their
-- timestamps agree with the enrollment's
SELECT bool_and(p.created_at <= clock_timestamp()) AS server_clock,
       bool_and(p.created_by = session_user) AS session_user_recorded,
       max(p.created_at) = (SELECT paid_at FROM enrollment.enrollments
                             WHERE user_id = 'carol' AND course_id = 'db-301')
         AS paid_at_is_last_payment
  FROM enrollment.payments p
 WHERE p.user_id = 'carol' AND p.course_id = 'db-301';

-- payment ids grow
SELECT bool_and(payment_id > lag) AS increasing FROM (
	SELECT payment_id, lag(payment_id, 1, 0::bigint) OVER (ORDER BY created_at, payment_id)
	  FROM enrollment.payments) s;

-- currencies with 0 and 3 decimal places
SELECT price FROM enrollment.enroll('dave', 'jp-1', 3000, 'JPY');
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.apply_payment('dave', 'jp-1', 1000);
SELECT price FROM enrollment.enroll('dave', 'kw-1', 10.000, 'KWD');
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.apply_payment('dave', 'kw-1', 0.125);

-- the largest accepted amount
SELECT price FROM enrollment.enroll('erin', 'big', 1000000000000);
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.apply_payment('erin', 'big', 999999999999.99);
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.apply_payment('erin', 'big', 0.01);

-- a payment inside a transaction that rolls back leaves nothing
SELECT price FROM enrollment.enroll('frank', 'rb-1', 20);
SELECT tables_checksum() AS before \gset
BEGIN;
SELECT amount_paid, status FROM enrollment.apply_payment('frank', 'rb-1', 5);
ROLLBACK;
SELECT tables_checksum() = :'before' AS unchanged;

-- and inside a savepoint that rolls back
BEGIN;
SELECT amount_paid FROM enrollment.apply_payment('frank', 'rb-1', 5);
SAVEPOINT s;
SELECT amount_paid FROM enrollment.apply_payment('frank', 'rb-1', 5);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT * FROM balance('frank', 'rb-1');
SELECT * FROM ledger('frank', 'rb-1');

-- many payments in one statement all count, each seeing the one before
SELECT max((enrollment.apply_payment('frank', 'rb-1', 1)).amount_paid)
  FROM generate_series(1, 15);
SELECT * FROM balance('frank', 'rb-1');
