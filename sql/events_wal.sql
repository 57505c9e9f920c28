--
-- Change events in the WAL (enrollment.events = wal, the default): one
-- transactional logical decoding message per ledger row, prefix
-- "enrollment", read here through a test_decoding slot.  The suite's server
-- runs with wal_level = logical.
--
CREATE EXTENSION enrollment;
SHOW enrollment.events;
SELECT 'created' FROM pg_create_logical_replication_slot('enrollment_events_test',
														  'test_decoding');

-- events(): what the slot decoded since the last call: the transactions'
-- bounds and the extension's messages (the tables' own changes carry
-- timestamps and are left out)
CREATE FUNCTION pg_temp.events() RETURNS SETOF text LANGUAGE sql AS $$
	SELECT data FROM pg_catalog.pg_logical_slot_get_changes('enrollment_events_test',
			NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0')
	 WHERE data IN ('BEGIN', 'COMMIT') OR data LIKE 'message:%'
$$;

-- an enrollment sends no event: it writes no ledger row
SELECT status FROM enrollment.enroll('dana', 'databases', 100.00);
SELECT status FROM enrollment.enroll('dana', 'networks', 60.00);
SELECT * FROM pg_temp.events();

-- a payment; its replay and a refused payment add nothing
SELECT payment_id, status FROM enrollment.apply_payment('dana', 'databases', 40.00, 'k1');
SELECT replayed FROM enrollment.apply_payment('dana', 'databases', 40.00, 'k1');
\set VERBOSITY sqlstate
SELECT enrollment.apply_payment('dana', 'databases', 1000.00);
\set VERBOSITY default
SELECT * FROM pg_temp.events();

-- each kind, in one transaction: its messages in order, inside one BEGIN
-- ... COMMIT
BEGIN;
SELECT amount FROM enrollment.refund_payment('dana', 'databases', 10.00, NULL, 'goodwill');
SELECT price FROM enrollment.change_price('dana', 'databases', 80.00, 'coupon');
SELECT status FROM enrollment.pay_remaining_balance('dana', 'databases');
SELECT status FROM enrollment.cancel_enrollment('dana', 'networks', 'changed plans');
SELECT status FROM enrollment.import_enrollment('erin', 'databases', 90.00, 30.00);
COMMIT;
SELECT * FROM pg_temp.events();

-- a batch: one message per payment
SELECT status FROM enrollment.enroll('erin', 'networks', 50.00);
SELECT amount FROM enrollment.apply_payments('[
	{"user_id": "erin", "course_id": "networks", "amount": 20},
	{"user_id": "erin", "course_id": "networks", "amount": 5}]');
SELECT * FROM pg_temp.events();

-- a rolled-back call sends nothing; nor does a call rolled back to a
-- savepoint, while the rest of its transaction commits
BEGIN;
SELECT amount FROM enrollment.apply_payment('erin', 'networks', 1.00);
ROLLBACK;
BEGIN;
SAVEPOINT before_payment;
SELECT amount FROM enrollment.apply_payment('erin', 'networks', 2.00);
ROLLBACK TO before_payment;
SELECT amount FROM enrollment.apply_payment('erin', 'networks', 3.00);
COMMIT;
SELECT * FROM pg_temp.events();

-- notify and off write no message
SET enrollment.events = notify;
SELECT amount FROM enrollment.apply_payment('erin', 'networks', 4.00);
SET enrollment.events = off;
SELECT amount FROM enrollment.apply_payment('erin', 'networks', 5.00);
RESET enrollment.events;
SELECT * FROM pg_temp.events();

-- the values of the boolean setting it replaced: on is notify
SET enrollment.events = on;
SHOW enrollment.events;
SET enrollment.events = false;
SHOW enrollment.events;
SET enrollment.events = often;
RESET enrollment.events;

SELECT 'dropped' FROM pg_drop_replication_slot('enrollment_events_test');
DROP EXTENSION enrollment;
