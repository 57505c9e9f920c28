-- batch.sql: apply_payments() keeps the same invariants as the single
-- calls: all or nothing, input order, one ledger row per applied payment.
-- Run by pg_prove as a superuser in a database with pgtap and enrollment.
BEGIN;
SELECT plan(12);

SELECT lives_ok($$SELECT count(enrollment.enroll(u, c, 100))
                    FROM (VALUES ('zoe', 'math'), ('zoe', 'art'), ('yan', 'math')) v (u, c)$$,
	'three enrollments of 100.00');

-- results come back in input order, payments to one enrollment in order
SELECT results_eq(
	$$SELECT user_id, course_id, amount, amount_paid, status::text, replayed
		FROM enrollment.apply_payments('[
			{"user_id": "zoe", "course_id": "math", "amount": 10, "idempotency_key": "b1"},
			{"user_id": "yan", "course_id": "math", "amount": 100},
			{"user_id": "zoe", "course_id": "math", "amount": 20.5},
			{"user_id": "zoe", "course_id": "art", "amount": 0.01},
			{"user_id": "zoe", "course_id": "math", "amount": 10, "idempotency_key": "b1"}
		]')$$,
	$$VALUES ('zoe', 'math', 10.00, 10.00, 'partial', false),
	         ('yan', 'math', 100.00, 100.00, 'paid', false),
	         ('zoe', 'math', 20.50, 30.50, 'partial', false),
	         ('zoe', 'art', 0.01, 0.01, 'partial', false),
	         ('zoe', 'math', 10.00, 10.00, 'partial', true)$$,
	'a batch returns one result per payment, in input order; a repeated key replays');

SELECT is((SELECT count(*) FROM enrollment.payments WHERE user_id IN ('zoe', 'yan')),
	4::bigint, 'four ledger rows: the replay wrote none');

-- all or nothing: a bad item refuses the whole batch
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "zoe", "course_id": "art", "amount": 1},
		{"user_id": "zoe", "course_id": "math", "amount": 1000}]')$$,
	'23E03', NULL, 'an overpaying item refuses the batch (23E03)');
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "zoe", "course_id": "art", "amount": 1},
		{"user_id": "yan", "course_id": "math", "amount": 1}]')$$,
	'55E01', NULL, 'an item for a paid enrollment refuses the batch (55E01)');
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "zoe", "course_id": "art", "amount": 1},
		{"user_id": "zoe", "course_id": "art", "amount": 0.001}]')$$,
	'22E01', NULL, 'an item with too many decimals refuses the batch (22E01)');
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "zoe", "course_id": "art", "amount": 1},
		{"user_id": "zoe", "course_id": "art", "amount": "1"}]')$$,
	'22E04', NULL, 'an amount that is not a JSON number refuses the batch (22E04)');
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "zoe", "course_id": "art", "amount": 1},
		{"user_id": "zoe", "course_id": "nope", "amount": 1}]')$$,
	'23E02', NULL, 'an item for an unknown enrollment refuses the batch (23E02)');
SELECT throws_ok($$SELECT * FROM enrollment.apply_payments('[
		{"user_id": "zoe", "course_id": "art", "amount": 1, "idempotency_key": "b1"}]')$$,
	'23E04', NULL, 'a key reused with another course refuses the batch (23E04)');

SELECT results_eq(
	$$SELECT user_id, course_id, amount_paid FROM enrollment.enrollments
	   WHERE user_id IN ('zoe', 'yan') ORDER BY 1, 2$$,
	$$VALUES ('yan', 'math', 100.00), ('zoe', 'art', 0.01), ('zoe', 'math', 30.50)$$,
	'the refused batches changed nothing');

-- the invariants
SELECT is_empty(
	$$SELECT e.user_id, e.course_id
		FROM enrollment.enrollments e
		LEFT JOIN (SELECT user_id, course_id, sum(amount) AS total
		             FROM enrollment.payments GROUP BY 1, 2) l USING (user_id, course_id)
	   WHERE e.amount_paid <> coalesce(l.total, 0)$$,
	'every amount_paid equals its ledger sum');
SELECT is_empty(
	$$SELECT e.user_id, e.course_id
		FROM enrollment.enrollments e
		JOIN LATERAL (SELECT * FROM enrollment.payments p
		               WHERE p.user_id = e.user_id AND p.course_id = e.course_id
		               ORDER BY p.payment_id DESC LIMIT 1) p ON true
	   WHERE (p.amount_paid_after, p.amount_due_after, p.status_after)
	         IS DISTINCT FROM (e.amount_paid, e.amount_due, e.status)$$,
	'the latest ledger row of every enrollment has its current amounts');

SELECT * FROM finish();
ROLLBACK;
