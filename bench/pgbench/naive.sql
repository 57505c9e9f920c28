-- naive: the application's read-compute-write, as two autocommit
-- statements; the new balance is computed from what the client read, so
-- concurrent payments to one enrollment overwrite each other (lost updates).
-- No ledger, no validation.  Variables: n (enrollments), course.
\set uid random(1, :n)
SELECT amount_paid, amount_due FROM bench.naive_enrollments
 WHERE user_id = 'u' || :uid AND course_id = :course \gset
UPDATE bench.naive_enrollments
   SET amount_paid = :amount_paid + 0.01, amount_due = :amount_due - 0.01,
       status = 'partial', updated_at = clock_timestamp()
 WHERE user_id = 'u' || :uid AND course_id = :course;
