--
-- pay_remaining_balance(): pays exactly what is due when the row is locked
--
SELECT price FROM enrollment.enroll('gina', 'py-101', 80);

-- from pending
SELECT amount, amount_paid, amount_due, status, replayed
  FROM enrollment.pay_remaining_balance('gina', 'py-101');
SELECT * FROM balance('gina', 'py-101');

-- from partial, with the amount the application charged
SELECT price FROM enrollment.enroll('gina', 'py-102', 80);
SELECT amount_due FROM enrollment.apply_payment('gina', 'py-102', 25.50);
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.pay_remaining_balance('gina', 'py-102',
                                        expected_amount => 54.50);

-- the expected amount is compared by value
SELECT price FROM enrollment.enroll('gina', 'py-103', 80);
SELECT amount, status
  FROM enrollment.pay_remaining_balance('gina', 'py-103',
                                        expected_amount => 80.0000);

-- refused: the expected amount is not what is due (55E02); DETAIL says
-- the actual amount due
SELECT price FROM enrollment.enroll('gina', 'py-104', 80);
SELECT amount_due FROM enrollment.apply_payment('gina', 'py-104', 30);
SELECT tables_checksum() AS before \gset
SELECT enrollment.pay_remaining_balance('gina', 'py-104', expected_amount => 80);
SELECT tables_checksum() = :'before' AS unchanged;

-- refused: nothing is due any more (55E01)
SELECT enrollment.pay_remaining_balance('gina', 'py-101');
SELECT tables_checksum() = :'before' AS unchanged;

-- with an idempotency key, a retry replays the first result
SELECT amount, amount_paid, amount_due, status, replayed
  FROM enrollment.pay_remaining_balance('gina', 'py-104', 'gina-py-104-final');
SELECT amount, amount_paid, amount_due, status, replayed
  FROM enrollment.pay_remaining_balance('gina', 'py-104', 'gina-py-104-final');
SELECT amount, amount_paid, amount_due, status, replayed
  FROM enrollment.pay_remaining_balance('gina', 'py-104', 'gina-py-104-final',
                                        expected_amount => 50);
SELECT * FROM ledger('gina', 'py-104');

-- a different expected amount with the same key is another payment
SELECT enrollment.pay_remaining_balance('gina', 'py-104', 'gina-py-104-final',
                                        expected_amount => 49);

-- a key that paid part of the balance does not replay as paying the rest
SELECT price FROM enrollment.enroll('gina', 'py-105', 80);
SELECT amount_due FROM enrollment.apply_payment('gina', 'py-105', 30, 'gina-py-105-a');
SELECT enrollment.pay_remaining_balance('gina', 'py-105', 'gina-py-105-a');
SELECT * FROM balance('gina', 'py-105');

-- JPY
SELECT price FROM enrollment.enroll('gina', 'jp-2', 1234, 'JPY');
SELECT amount, amount_paid, amount_due, status
  FROM enrollment.pay_remaining_balance('gina', 'jp-2');
