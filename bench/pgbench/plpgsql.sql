-- plpgsql: bench.apply_payment() from bench/plpgsql_contender.sql, with an
-- idempotency key unique to this run, client and transaction.
-- Variables: n (enrollments), course, run, seq (starts at 0).
\set uid random(1, :n)
\set seq :seq + 1
SELECT bench.apply_payment('u' || :uid, :course, 0.01,
	'r' || :run || '-' || :client_id || '-' || :seq);
