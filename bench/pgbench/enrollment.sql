-- enrollment: the extension's apply_payment(), with an idempotency key
-- unique to this run, client and transaction.
-- Variables: n (enrollments), course, run, seq (starts at 0).
\set uid random(1, :n)
\set seq :seq + 1
SELECT enrollment.apply_payment('u' || :uid, :course, 0.01,
	'r' || :run || '-' || :client_id || '-' || :seq);
