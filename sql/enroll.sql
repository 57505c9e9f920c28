--
-- enroll(): creating enrollments
--
SELECT user_id, course_id, currency, price, amount_paid, amount_due, status,
       created_at = updated_at AS fresh, paid_at
  FROM enrollment.enroll('alice', 'sql-101', 49.99);

-- named arguments, another currency
SELECT user_id, course_id, currency, price, amount_due, status
  FROM enrollment.enroll(user_id => 'alice', course_id => 'go-201',
                         price => 5000, currency => 'JPY');

-- a price is stored with the currency's decimal places
SELECT price, amount_paid, amount_due
  FROM enrollment.enroll('alice', 'kw-1', 12.5, 'KWD');

-- a free course is enrolled as paid at once
SELECT price, amount_paid, amount_due, status, paid_at IS NOT NULL AS paid
  FROM enrollment.enroll('bob', 'free-course', 0);

-- timestamps come from the server clock, at the moment of the call
BEGIN;
SELECT created_at >= now() AND created_at <= clock_timestamp() AS from_server_clock
  FROM enrollment.enroll('bob', 'clock-1', 10);
COMMIT;

-- refused: the enrollment exists already (23E01), and nothing changes
SELECT tables_checksum() AS before \gset
SELECT enrollment.enroll('alice', 'sql-101', 10);
SELECT outcome($$SELECT enrollment.enroll('alice', 'sql-101', 49.99)$$);
SELECT tables_checksum() = :'before' AS unchanged;

-- ids are compared exactly: another case is another user
SELECT user_id, status FROM enrollment.enroll('Alice', 'sql-101', 49.99);

SELECT user_id, course_id, currency, price, status
  FROM enrollment.enrollments ORDER BY user_id, course_id;
