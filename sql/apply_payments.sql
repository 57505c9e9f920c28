--
-- apply_payments(): many payments in one call, all or none
--
SELECT count(enrollment.enroll(u, c, p, cur))
  FROM (VALUES ('lena', 'c1', 100, 'USD'), ('lena', 'c2', 100, 'USD'),
               ('mark', 'c1', 1000, 'JPY'), ('mark', 'c2', 1000, 'JPY')) v (u, c, p, cur);

-- one result per payment, in input order; payments to one enrollment are
-- applied in input order
SELECT user_id, course_id, amount, amount_paid, amount_due, status, replayed
  FROM enrollment.apply_payments('[
	{"user_id": "mark", "course_id": "c1", "amount": 300},
	{"user_id": "lena", "course_id": "c2", "amount": 10.5, "idempotency_key": "L1"},
	{"user_id": "lena", "course_id": "c1", "amount": 0.01},
	{"user_id": "lena", "course_id": "c2", "amount": 89.5},
	{"user_id": "mark", "course_id": "c1", "amount": 700, "idempotency_key": null}
  ]');
SELECT * FROM ledger('lena', 'c2');

-- a retried batch replays the items with keys and pays the others again
SELECT user_id, course_id, amount, amount_paid, replayed
  FROM enrollment.apply_payments('[
	{"user_id": "lena", "course_id": "c2", "amount": 10.50, "idempotency_key": "L1"},
	{"user_id": "lena", "course_id": "c1", "amount": 1}
  ]');

-- an empty batch does nothing
SELECT count(*) FROM enrollment.apply_payments('[]');

-- all or nothing: the error names the refused item, nothing changes
SELECT tables_checksum() AS before \gset
SELECT * FROM enrollment.apply_payments('[
	{"user_id": "lena", "course_id": "c1", "amount": 1},
	{"user_id": "lena", "course_id": "c1", "amount": 1000}
  ]');
SELECT * FROM enrollment.apply_payments('[
	{"user_id": "lena", "course_id": "c1", "amount": 1},
	{"user_id": "lena", "course_id": "c2", "amount": 1}
  ]');
SELECT * FROM enrollment.apply_payments('[
	{"user_id": "lena", "course_id": "c1", "amount": 1},
	{"user_id": "lena", "course_id": "c1", "amount": 1, "course": "c2"}
  ]');
SELECT * FROM enrollment.apply_payments('[{"user_id": "lena", "course_id": "c1", "amount": "1.00"}]');
SELECT tables_checksum() = :'before' AS unchanged;

-- table-driven: each bad batch, its SQLSTATE
CREATE TEMP TABLE bad_batches (n serial, batch text);
INSERT INTO bad_batches (batch) VALUES
	-- 22004: NULL
	(NULL),
	-- 22E04: not a batch of payment objects
	('{}'), ('1'), ('"x"'), ('null'), ('[1]'), ('[[]]'), ('[null]'),
	('[{"course_id": "c1", "amount": 1}]'),
	('[{"user_id": "lena", "amount": 1}]'),
	('[{"user_id": "lena", "course_id": "c1"}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": null}]'),
	('[{"user_id": 7, "course_id": "c1", "amount": 1}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": true}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": 1, "idempotency_key": 5}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": 1, "note": "x"}]'),
	-- 22E01, 22E03: the rules of apply_payment()
	('[{"user_id": "lena", "course_id": "c1", "amount": 0}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": -5}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": 0.001}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": 1e13}]'),
	('[{"user_id": "mark", "course_id": "c2", "amount": 0.5}]'),
	('[{"user_id": "", "course_id": "c1", "amount": 1}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": 1, "idempotency_key": ""}]'),
	-- 23E02, 23E03, 23E04, 55E01
	('[{"user_id": "lena", "course_id": "nope", "amount": 1}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": 99}, {"user_id": "lena", "course_id": "c1", "amount": 1}]'),
	('[{"user_id": "lena", "course_id": "c1", "amount": 1, "idempotency_key": "L1"}]'),
	('[{"user_id": "lena", "course_id": "c2", "amount": 1}]');
SELECT n, split_part(outcome(format('SELECT * FROM enrollment.apply_payments(%L)', batch)),
                     ':', 1) AS sqlstate
  FROM bad_batches ORDER BY n;
SELECT tables_checksum() = :'before' AS unchanged;

-- the largest batch: 10000 payments, 100 to each of 100 enrollments
SELECT count(enrollment.enroll('nina', 'c' || i, 1000)) FROM generate_series(1, 100) i;
SELECT count(*), sum(amount), min(amount_paid), max(amount_paid)
  FROM enrollment.apply_payments((
	SELECT jsonb_agg(jsonb_build_object('user_id', 'nina', 'course_id', 'c' || i % 100 + 1,
	                                    'amount', 0.01))
	  FROM generate_series(1, 10000) i));
SELECT count(*), sum(amount_paid) FROM enrollment.enrollments WHERE user_id = 'nina';
SELECT enrollment.apply_payments((
	SELECT jsonb_agg(jsonb_build_object('user_id', 'nina', 'course_id', 'c1', 'amount', 0.01))
	  FROM generate_series(1, 10001)));
