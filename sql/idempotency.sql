--
-- Idempotency keys: a retried call is applied once
--
SELECT price FROM enrollment.enroll('hana', 'rust-1', 100);
SELECT price FROM enrollment.enroll('hana', 'rust-2', 100);
SELECT price FROM enrollment.enroll('ivan', 'rust-1', 100);

SELECT payment_id AS first_id, amount, amount_paid, status, replayed
  FROM enrollment.apply_payment('hana', 'rust-1', 40, 'order-1') \gset
SELECT :'amount', :'amount_paid', :'status', :'replayed';

-- the retry returns the original result, marked replayed, and changes nothing
SELECT tables_checksum() AS before \gset
SELECT payment_id = :first_id AS same_payment, amount, amount_paid, status, replayed
  FROM enrollment.apply_payment('hana', 'rust-1', 40, 'order-1');
SELECT payment_id = :first_id AS same_payment, amount, amount_paid, replayed
  FROM enrollment.apply_payment('hana', 'rust-1', 40.00, 'order-1');
SELECT tables_checksum() = :'before' AS unchanged;

-- a replay returns the balance as it was after the original payment
SELECT amount_paid FROM enrollment.apply_payment('hana', 'rust-1', 10, 'order-2');
SELECT amount, amount_paid, amount_due, replayed
  FROM enrollment.apply_payment('hana', 'rust-1', 40, 'order-1');

-- a replay works even after the enrollment became paid
SELECT status FROM enrollment.apply_payment('hana', 'rust-1', 50, 'order-3');
SELECT amount, amount_paid, status, replayed
  FROM enrollment.apply_payment('hana', 'rust-1', 40, 'order-1');

-- the same key with another amount or course is refused (23E04)
SELECT tables_checksum() AS before \gset
SELECT enrollment.apply_payment('hana', 'rust-1', 41, 'order-1');
SELECT enrollment.apply_payment('hana', 'rust-2', 40, 'order-1');
SELECT tables_checksum() = :'before' AS unchanged;

-- keys are scoped to the user: another user may use the same key
SELECT amount, amount_paid, replayed
  FROM enrollment.apply_payment('ivan', 'rust-1', 40, 'order-1');

-- a refused payment leaves no key behind: the key is free for a new call
SELECT price FROM enrollment.enroll('hana', 'rust-3', 20);
SELECT enrollment.apply_payment('hana', 'rust-3', 25, 'order-4');
SELECT count(*) FROM enrollment.payments
 WHERE user_id = 'hana' AND idempotency_key = 'order-4';
SELECT amount, amount_paid, status, replayed
  FROM enrollment.apply_payment('hana', 'rust-3', 20, 'order-4');

-- calls without a key are never replayed
SELECT price FROM enrollment.enroll('hana', 'rust-4', 20);
SELECT amount_paid, replayed FROM enrollment.apply_payment('hana', 'rust-4', 5);
SELECT amount_paid, replayed FROM enrollment.apply_payment('hana', 'rust-4', 5);

-- keys are compared exactly
SELECT amount_paid, replayed FROM enrollment.apply_payment('hana', 'rust-4', 5, 'K');
SELECT amount_paid, replayed FROM enrollment.apply_payment('hana', 'rust-4', 5, 'k');

SELECT idempotency_key, count(*) FROM enrollment.payments
 WHERE user_id = 'hana' GROUP BY 1 ORDER BY 1;

-- the key of a partial apply_payment() never replays as
-- pay_remaining_balance(), with or without an expected amount equal to it
-- (23E04); the key of one that paid in full does
SELECT price FROM enrollment.enroll('hana', 'rust-5', 50);
SELECT amount_due FROM enrollment.apply_payment('hana', 'rust-5', 20, 'part-1');
SELECT outcome($$SELECT enrollment.pay_remaining_balance('hana', 'rust-5', 'part-1', 20)$$);
SELECT outcome($$SELECT enrollment.pay_remaining_balance('hana', 'rust-5', 'part-1')$$);
SELECT amount, status FROM enrollment.pay_remaining_balance('hana', 'rust-5', 'rest-1', 30);
SELECT amount, status, replayed
  FROM enrollment.pay_remaining_balance('hana', 'rust-5', 'rest-1', 30);
SELECT outcome($$SELECT enrollment.pay_remaining_balance('hana', 'rust-5', 'rest-1', 31)$$);
