--
-- The payment functions keep up with changes to the extension's tables
-- made in the same session: they see new constraints (NOT VALID ones
-- too), triggers (UPDATE OF ones for the columns they write), indexes,
-- columns with defaults, and a reinstalled extension at once.
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

-- the ledger's row triggers fire for payments: a user's AFTER INSERT
-- trigger sees each one (it runs under the functions' search_path, so it
-- names its table with the schema)
CREATE TABLE test_audit (payment_id bigint, amount numeric);
CREATE FUNCTION test_audit_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.test_audit VALUES (NEW.payment_id, NEW.amount);
	RETURN NULL;
END
$$;
CREATE TRIGGER test_audit AFTER INSERT ON enrollment.payments
	FOR EACH ROW EXECUTE FUNCTION test_audit_payment();
SELECT amount FROM enrollment.apply_payments(
	'[{"user_id": "olga", "course_id": "c1", "amount": 1},
	  {"user_id": "olga", "course_id": "c1", "amount": 2}]');
SELECT amount FROM enrollment.apply_payment('olga', 'c1', 3);
SELECT a.amount, p.amount_paid_after
  FROM test_audit a
  JOIN enrollment.payments p USING (payment_id)
 ORDER BY a.payment_id;
DROP TRIGGER test_audit ON enrollment.payments;
DROP TABLE test_audit;
DROP FUNCTION test_audit_payment();

-- indexes added to the ledger are maintained, on expressions and partial
-- ones too
CREATE INDEX test_lower_key ON enrollment.payments (lower(idempotency_key));
CREATE UNIQUE INDEX test_big_payments ON enrollment.payments (user_id, amount)
	WHERE amount > 500;
SELECT amount FROM enrollment.apply_payment('olga', 'c1', 4, 'Key-A');
SELECT amount FROM enrollment.apply_payment('olga', 'c1', 600, 'Key-B');
\set VERBOSITY terse
SELECT amount FROM enrollment.apply_payment('olga', 'c1', 600, 'Key-C');
\set VERBOSITY default
SET enable_seqscan = off;
SELECT idempotency_key FROM enrollment.payments
 WHERE lower(idempotency_key) = 'key-a';
SELECT idempotency_key FROM enrollment.payments
 WHERE user_id = 'olga' AND amount = 600 AND amount > 500;
RESET enable_seqscan;
DROP INDEX enrollment.test_lower_key, enrollment.test_big_payments;

-- UPDATE OF triggers fire for the columns a payment writes, and only those
CREATE TABLE test_fired (trigger_name text, amount_paid numeric);
CREATE FUNCTION test_fired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.test_fired VALUES (TG_NAME, NEW.amount_paid);
	RETURN NEW;
END
$$;
CREATE TRIGGER test_paid_before BEFORE UPDATE OF amount_paid
	ON enrollment.enrollments FOR EACH ROW EXECUTE FUNCTION test_fired();
CREATE TRIGGER test_status_after AFTER UPDATE OF status
	ON enrollment.enrollments FOR EACH ROW EXECUTE FUNCTION test_fired();
CREATE TRIGGER test_user_id BEFORE UPDATE OF user_id
	ON enrollment.enrollments FOR EACH ROW EXECUTE FUNCTION test_fired();
SELECT price FROM enrollment.enroll('pia', 'c1', 100);
SELECT amount_paid FROM enrollment.apply_payment('pia', 'c1', 5);
SELECT * FROM test_fired ORDER BY trigger_name;
DROP TRIGGER test_paid_before ON enrollment.enrollments;
DROP TRIGGER test_status_after ON enrollment.enrollments;
DROP TRIGGER test_user_id ON enrollment.enrollments;

-- a BEFORE UPDATE trigger that skips the enrollment's update refuses the
-- payment (09000): no ledger row without its balance
CREATE FUNCTION test_skip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END
$$;
CREATE TRIGGER test_skip BEFORE UPDATE ON enrollment.enrollments
	FOR EACH ROW EXECUTE FUNCTION test_skip();
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 5);
DROP TRIGGER test_skip ON enrollment.enrollments;
DROP FUNCTION test_skip();
SELECT amount_paid, (SELECT count(*) FROM enrollment.payments WHERE user_id = 'pia')
  FROM enrollment.enrollments WHERE user_id = 'pia';

-- an error raised under a payment reads the same whether the payment
-- reaches the tables directly or through SQL statements: its CONTEXT names
-- the trigger and the batch item, never the extension's own statements
CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'payments of % need approval', NEW.amount
		USING ERRCODE = 'P0001';
END
$$;
CREATE TRIGGER test_refuse BEFORE INSERT ON enrollment.payments
	FOR EACH ROW EXECUTE FUNCTION test_refuse();
SET enrollment.table_access = direct;
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 7);
SELECT amount FROM enrollment.apply_payments('[{"user_id": "pia", "course_id": "c1", "amount": 7}]');
SET enrollment.table_access = sql;
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 7);
SELECT amount FROM enrollment.apply_payments('[{"user_id": "pia", "course_id": "c1", "amount": 7}]');
RESET enrollment.table_access;
DROP TRIGGER test_refuse ON enrollment.payments;
DROP FUNCTION test_refuse();

-- a column a payment reads, made nullable and set to NULL behind the
-- extension's back: an internal error on both paths, not a crash
BEGIN;
ALTER TABLE enrollment.enrollments ALTER COLUMN price DROP NOT NULL;
UPDATE enrollment.enrollments SET price = NULL WHERE user_id = 'pia';
SET LOCAL enrollment.table_access = direct;
SELECT outcome($$SELECT enrollment.apply_payment('pia', 'c1', 1)$$);
SET LOCAL enrollment.table_access = sql;
SELECT outcome($$SELECT enrollment.apply_payment('pia', 'c1', 1)$$);
ROLLBACK;

-- CHECK constraints added NOT VALID hold for the rows a payment writes
ALTER TABLE enrollment.enrollments
	ADD CONSTRAINT test_paid_cap CHECK (amount_paid <= 20) NOT VALID;
ALTER TABLE enrollment.payments
	ADD CONSTRAINT test_amount_cap CHECK (amount <= 10) NOT VALID;
\set VERBOSITY terse
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 11);
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 10);
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 6);
\set VERBOSITY default
ALTER TABLE enrollment.enrollments DROP CONSTRAINT test_paid_cap;
ALTER TABLE enrollment.payments DROP CONSTRAINT test_amount_cap;

-- columns added to the ledger get their defaults and generated values
ALTER TABLE enrollment.payments
	ADD COLUMN test_source text NOT NULL DEFAULT 'api',
	ADD COLUMN test_cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED;
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 1.5);
SELECT amount FROM enrollment.apply_payments(
	'[{"user_id": "pia", "course_id": "c1", "amount": 2.25, "idempotency_key": "pia-1"}]');
SELECT amount, test_source, test_cents FROM enrollment.payments
 WHERE user_id = 'pia' ORDER BY payment_id;
ALTER TABLE enrollment.payments DROP COLUMN test_source, DROP COLUMN test_cents;
SELECT * FROM enrollment.verify();

-- a column the functions need, renamed: every call says so, until it is
-- renamed back
ALTER TABLE enrollment.enrollments RENAME COLUMN paid_at TO test_paid_at;
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 1);
SELECT amount FROM enrollment.apply_payment('pia', 'c1', 1);
ALTER TABLE enrollment.enrollments RENAME COLUMN test_paid_at TO paid_at;
SELECT amount, amount_paid FROM enrollment.apply_payment('pia', 'c1', 1);

-- the payment functions hold the ledger's foreign key by locking the
-- enrollment; every other writer is still checked by it
\set VERBOSITY terse
INSERT INTO enrollment.payments (user_id, course_id, amount, kind,
		amount_paid_after, amount_due_after, status_after, created_at,
		created_by)
	VALUES ('nobody', 'c1', 1, 'payment', 1, 0, 'paid', now(), current_user);
\set VERBOSITY default

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
