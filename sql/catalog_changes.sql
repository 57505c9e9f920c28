--
-- The payment functions keep up with changes to the extension's tables
-- made in the same session: they see new constraints and a reinstalled
-- extension at once.
--
CREATE EXTENSION enrollment;
SELECT price FROM enrollment.enroll('olga', 'c1', 5000);
SELECT amount_paid FROM enrollment.apply_payment('olga', 'c1', 10);

-- a new CHECK constraint on the ledger applies to the next payment
ALTER TABLE enrollment.payments
	ADD CONSTRAINT test_small_payments CHECK (amount < 1000);
\set VERBOSITY terse
SELECT amount_paid FROM enrollment.apply_payment('olga', 'c1', 2000);
\set VERBOSITY default
SELECT amount_paid FROM enrollment.apply_payment('olga', 'c1', 20);
ALTER TABLE enrollment.payments DROP CONSTRAINT test_small_payments;
SELECT amount_paid FROM enrollment.apply_payment('olga', 'c1', 2000);

-- and one on the enrollments, inside a transaction
BEGIN;
ALTER TABLE enrollment.enrollments
	ADD CONSTRAINT test_paid_limit CHECK (amount_paid <= 2100);
\set VERBOSITY terse
SELECT amount_paid FROM enrollment.apply_payment('olga', 'c1', 100);
\set VERBOSITY default
ROLLBACK;
SELECT amount_paid FROM enrollment.apply_payment('olga', 'c1', 100);

-- a reinstalled extension: new tables, new types, same session
DROP EXTENSION enrollment;
CREATE EXTENSION enrollment;
SELECT price FROM enrollment.enroll('olga', 'c1', 50);
SELECT amount, amount_paid, status, replayed
  FROM enrollment.apply_payment('olga', 'c1', 50, 'k1');
SELECT amount, amount_paid, status, replayed
  FROM enrollment.apply_payment('olga', 'c1', 50, 'k1');
SELECT count(*) FROM enrollment.apply_payments('[]');
DROP EXTENSION enrollment;
