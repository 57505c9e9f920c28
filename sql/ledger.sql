--
-- The ledger is append-only, even for its owner and a superuser (23E05)
--
SELECT price FROM enrollment.enroll('kim', 'led-1', 10);
SELECT amount_paid FROM enrollment.apply_payment('kim', 'led-1', 4);
SELECT tables_checksum() AS before \gset

UPDATE enrollment.payments SET amount = 1000 WHERE user_id = 'kim';
DELETE FROM enrollment.payments WHERE user_id = 'kim';
TRUNCATE enrollment.payments;
-- even when no row matches
DELETE FROM enrollment.payments WHERE false;
-- and with triggers for replication off
SET session_replication_role = replica;
DELETE FROM enrollment.payments;
RESET session_replication_role;

SELECT tables_checksum() = :'before' AS unchanged;

-- an enrollment with ledger rows cannot be deleted
DELETE FROM enrollment.enrollments WHERE user_id = 'kim';

-- the CHECK constraints hold the invariants against direct writes
-- (terse: the failing row's timestamps differ from run to run)
\set VERBOSITY terse
UPDATE enrollment.enrollments SET amount_paid = amount_paid + 1
 WHERE user_id = 'kim';
UPDATE enrollment.enrollments SET status = 'paid' WHERE user_id = 'kim';
UPDATE enrollment.enrollments SET amount_paid = -1, amount_due = 11
 WHERE user_id = 'kim';
UPDATE enrollment.enrollments SET status = 'pending' WHERE user_id = 'kim';
UPDATE enrollment.enrollments SET paid_at = now() WHERE user_id = 'kim';
\set VERBOSITY default
SELECT tables_checksum() = :'before' AS unchanged;

-- for every enrollment the amount paid is the sum of its ledger
SELECT count(*) AS enrollments,
       count(*) FILTER (WHERE e.amount_paid = coalesce(l.total, 0)) AS explained
  FROM enrollment.enrollments e
  LEFT JOIN (SELECT user_id, course_id, sum(amount) AS total
               FROM enrollment.payments GROUP BY 1, 2) l
         USING (user_id, course_id);

-- and the latest ledger row has the enrollment's current amounts
SELECT count(*) AS mismatches
  FROM enrollment.enrollments e
  JOIN LATERAL (SELECT * FROM enrollment.payments p
                 WHERE p.user_id = e.user_id AND p.course_id = e.course_id
                 ORDER BY p.payment_id DESC LIMIT 1) p ON true
 WHERE (p.amount_paid_after, p.amount_due_after, p.status_after)
       IS DISTINCT FROM (e.amount_paid, e.amount_due, e.status);

-- dropping the extension removes every object it created; the schema
-- that CREATE EXTENSION made for it stays, empty
DROP FUNCTION balance(text, text), ledger(text, text);
DROP EXTENSION enrollment;
SELECT count(*) AS objects_left FROM pg_class
 WHERE relnamespace = 'enrollment'::regnamespace;
SELECT count(*) AS types_left FROM pg_type
 WHERE typnamespace = 'enrollment'::regnamespace;
