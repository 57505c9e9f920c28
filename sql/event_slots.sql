--
-- Event slots (version 1.2): a role with no other right reads the change
-- events through read_events() and confirm_events().  The suite's server
-- runs with wal_level = logical.  Positions differ from run to run, so the
-- output shows how they compare, not what they are.
--
-- the messages and hints, not the lines of PL/pgSQL they come from
\set SHOW_CONTEXT never
CREATE EXTENSION enrollment;
SELECT pg_catalog.pg_create_logical_replication_slot('not_an_event_slot', 'test_decoding')
	IS NOT NULL AS created;
-- the empty publication that pgoutput needs comes first
SELECT enrollment.create_event_slot('billing');
CREATE PUBLICATION enrollment_events;
SELECT enrollment.create_event_slot('billing') IS NOT NULL AS created;
SELECT slot_name, plugin, slot_type FROM pg_replication_slots ORDER BY 1;
SELECT slot_name FROM enrollment.event_slots;
SELECT pubname, puballtables FROM pg_publication;

-- the reader: EXECUTE on the two functions, no access to the tables
CREATE ROLE event_reader;
GRANT USAGE ON SCHEMA enrollment TO event_reader;
GRANT EXECUTE ON FUNCTION enrollment.read_events(name, integer),
	enrollment.confirm_events(name, pg_lsn) TO event_reader;

SELECT status FROM enrollment.enroll('dana', 'databases', 100.00);
SELECT status FROM enrollment.enroll('erin', 'databases', 100.00);
SELECT payment_id FROM enrollment.apply_payment('dana', 'databases', 40.00, 'k1');
-- a replay, a refusal and a rolled-back call send nothing
SELECT replayed FROM enrollment.apply_payment('dana', 'databases', 40.00, 'k1');
\set VERBOSITY sqlstate
SELECT enrollment.apply_payment('dana', 'databases', 1000.00);
\set VERBOSITY default
BEGIN;
SELECT amount FROM enrollment.apply_payment('erin', 'databases', 1.00);
ROLLBACK;
-- two events in one transaction share its commit position
SELECT amount FROM enrollment.apply_payments('[
	{"user_id": "erin", "course_id": "databases", "amount": 20},
	{"user_id": "dana", "course_id": "databases", "amount": 5}]');
SELECT status FROM enrollment.refund_payment('dana', 'databases', 10.00);

SET ROLE event_reader;
CREATE TEMP TABLE seen AS
SELECT * FROM enrollment.read_events('billing') WITH ORDINALITY AS r (commit_lsn, xid, event, n);
SELECT n, event->>'payment_id' AS payment_id, event->>'user_id' AS user_id,
	   event->>'kind' AS kind, event->'amount' AS amount,
	   event->'amount_paid' AS amount_paid, event->>'status' AS status,
	   dense_rank() OVER (ORDER BY commit_lsn) AS transaction,
	   dense_rank() OVER (ORDER BY xid::text::bigint) AS xid_order
  FROM seen ORDER BY n;
-- each event is its ledger row's, committed by the transaction named
RESET ROLE;
SELECT count(*) AS events, count(p.payment_id) AS matching_ledger_rows
  FROM seen s
  LEFT JOIN enrollment.payments p
	ON p.payment_id = (s.event->>'payment_id')::bigint
   AND p.xmin::text = s.xid::text AND p.amount = (s.event->>'amount')::numeric;
SET ROLE event_reader;
-- reading again without confirming returns the same events
SELECT count(*) FROM enrollment.read_events('billing');
-- confirming the first transaction: the rest is still there
SELECT enrollment.confirm_events('billing', min(commit_lsn)) = min(commit_lsn) AS confirmed
  FROM seen;
SELECT event->>'kind' AS kind FROM enrollment.read_events('billing');
-- confirming everything; confirming an older position again changes nothing
SELECT enrollment.confirm_events('billing', max(commit_lsn)) = max(commit_lsn) AS confirmed
  FROM seen;
SELECT enrollment.confirm_events('billing', min(commit_lsn)) = max(commit_lsn) AS unchanged
  FROM seen;
SELECT count(*) FROM enrollment.read_events('billing');

-- max_events: whole transactions, stopping after the one that reaches it
RESET ROLE;
SELECT count(enrollment.apply_payment('dana', 'databases', 1.00)) FROM generate_series(1, 3);
SELECT amount FROM enrollment.apply_payment('dana', 'databases', 1.00);
SELECT amount FROM enrollment.apply_payment('dana', 'databases', 1.00);
SET ROLE event_reader;
SELECT count(*) FROM enrollment.read_events('billing', 1);
SELECT count(*) FROM enrollment.read_events('billing', 6);
SELECT count(*) FROM enrollment.read_events('billing');

-- the reader reads nothing else
\set VERBOSITY sqlstate
SELECT * FROM enrollment.read_events('not_an_event_slot');
SELECT enrollment.confirm_events('not_an_event_slot', '0/0');
SELECT count(*) FROM enrollment.payments;
SELECT count(*) FROM pg_logical_slot_peek_changes('billing', NULL, NULL);
SELECT enrollment.create_event_slot('mine');
SELECT enrollment.drop_event_slot('billing');
-- bad input
SELECT * FROM enrollment.read_events('billing', 0);
SELECT * FROM enrollment.read_events('billing', NULL);
SELECT * FROM enrollment.read_events(NULL);
SELECT enrollment.confirm_events('billing', NULL);
\set VERBOSITY default
SELECT * FROM enrollment.read_events('nowhere');
SELECT * FROM enrollment.read_events('billing', -1);
RESET ROLE;

-- a listed slot that is gone (a restored database) says so
SELECT pg_drop_replication_slot('billing');
SELECT * FROM enrollment.read_events('billing');
SELECT enrollment.create_event_slot('billing') IS NOT NULL AS created_again;
SELECT count(*) FROM enrollment.read_events('billing');
\set VERBOSITY sqlstate
SELECT enrollment.create_event_slot('billing');
\set VERBOSITY default
-- nor in a transaction that has written
BEGIN;
SELECT status FROM enrollment.enroll('fay', 'databases', 10.00);
\set VERBOSITY sqlstate
SELECT enrollment.create_event_slot('late');
\set VERBOSITY default
ROLLBACK;

SELECT enrollment.drop_event_slot('billing');
SELECT enrollment.drop_event_slot('billing');
SELECT slot_name FROM pg_replication_slots;
SELECT pg_drop_replication_slot('not_an_event_slot');
DROP EXTENSION enrollment;
DROP PUBLICATION enrollment_events;
DROP OWNED BY event_reader;
DROP ROLE event_reader;
