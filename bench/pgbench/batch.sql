-- batch: the extension's apply_payments(), 100 payments per call, each with
-- its own idempotency key.  The batch reaches the function as JSON text, as
-- an application's parameter would, and is parsed by the server; the script
-- writes that text with string_agg() (in place of the application's JSON
-- encoder), which is cheaper than building jsonb with jsonb_agg().
-- Variables: n (enrollments), course, run, seq (starts at 0).
\set uid random(1, :n)
\set seq :seq + 1
SELECT count(*) FROM enrollment.apply_payments((
	SELECT ('[' || string_agg(format(
		'{"user_id": "u%s", "course_id": "%s", "amount": 0.01, "idempotency_key": "r%s-%s-%s-%s"}',
		:uid::int, :course::text, :run::int, :client_id::int, :seq::int, i), ', ') || ']')::jsonb
	  FROM generate_series(1, 100) i));
