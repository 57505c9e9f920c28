-- many enrollments: a random amount with a fresh idempotency key, then the
-- same call again, as a client retrying after a lost answer would
\set uid random(1, 200)
\set cents random(1, 500)
\set nonce random(1, 1000000000000)
SELECT enrollment.apply_payment('user-' || :uid, 'course-1', :cents / 100.0,
	'key-' || :client_id || '-' || :nonce);
SELECT enrollment.apply_payment('user-' || :uid, 'course-1', :cents / 100.0,
	'key-' || :client_id || '-' || :nonce);
