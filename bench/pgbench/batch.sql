-- batch: the extension's apply_payments(), 100 payments per call, each with
-- its own idempotency key; the JSON array is built by the server.
-- Variables: n (enrollments), course, run, seq (starts at 0).
\set uid random(1, :n)
\set seq :seq + 1
SELECT count(*) FROM enrollment.apply_payments((
	SELECT jsonb_agg(jsonb_build_object(
		'user_id', 'u' || :uid, 'course_id', :course::text, 'amount', 0.01,
		'idempotency_key', 'r' || :run || '-' || :client_id || '-' || :seq || '-' || i))
	  FROM generate_series(1, 100) i));
