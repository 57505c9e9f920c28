--
-- Version 1.1: import_enrollment(), for migrations from another system.
--

-- the enrollment with an opening ledger row for what was paid before
SELECT user_id, course_id, currency, price, amount_paid, amount_due, status,
	   created_at, paid_at IS NOT NULL AS paid
  FROM enrollment.import_enrollment('mia', 'sql-101', 200.00, 50.00,
									enrolled_at => '2024-01-15 10:00:00+00');
SELECT kind, amount, amount_paid_after, amount_due_after, status_after
  FROM enrollment.history('mia', 'sql-101');
-- then it is like any other enrollment
SELECT amount_paid, status FROM enrollment.pay_remaining_balance('mia', 'sql-101');

-- nothing paid yet, paid in full, a free course, another currency
SELECT course_id, price, amount_paid, amount_due, status, paid_at IS NOT NULL AS paid
  FROM enrollment.import_enrollment('mia', 'go-201', 80, 0)
UNION ALL
SELECT course_id, price, amount_paid, amount_due, status, paid_at IS NOT NULL
  FROM enrollment.import_enrollment('mia', 'rust-301', 80, 80)
UNION ALL
SELECT course_id, price, amount_paid, amount_due, status, paid_at IS NOT NULL
  FROM enrollment.import_enrollment('mia', 'free-1', 0, 0)
UNION ALL
SELECT course_id, price, amount_paid, amount_due, status, paid_at IS NOT NULL
  FROM enrollment.import_enrollment('mia', 'kw-1', 12.5, 2.125, 'KWD');
SELECT course_id, kind, amount, status_after
  FROM enrollment.payments WHERE user_id = 'mia' AND kind = 'import'
 ORDER BY payment_id;

-- refusals change nothing
CREATE TEMP TABLE checksum_before AS SELECT tables_checksum() AS sum;
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'sql-101', 10, 0)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, 100.01)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, -1)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, 1.001)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, 'NaN')$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', -100, 0)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, NULL)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', NULL, 0)$$);
SELECT outcome($$SELECT enrollment.import_enrollment(NULL, 'x', 100, 0)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, 0, 'usd')$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, 0, NULL)$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', 'x', 100, 0, enrolled_at => 'infinity')$$);
SELECT outcome($$SELECT enrollment.import_enrollment('mia', ' x', 100, 0)$$);
SELECT tables_checksum() = sum AS nothing_changed FROM checksum_before;

--
-- The bulk imports of docs/migrations.md, checking that a failed run changes nothing.
--

-- from a staging table
CREATE TABLE staging (user_id text, course_id text, price numeric,
					  amount_paid numeric, currency text);
INSERT INTO staging VALUES
	('u1', 'c1', 100, 0, 'USD'), ('u1', 'c2', 100, 30, 'USD'),
	('u2', 'c1', 5000, 5000, 'JPY');
SELECT count(enrollment.import_enrollment(user_id, course_id, price, amount_paid, currency))
  FROM staging s
 WHERE NOT EXISTS (SELECT FROM enrollment.enrollments e
				    WHERE e.user_id = s.user_id AND e.course_id = s.course_id);
-- run again after a failure: what is already there is skipped
SELECT count(enrollment.import_enrollment(user_id, course_id, price, amount_paid, currency))
  FROM staging s
 WHERE NOT EXISTS (SELECT FROM enrollment.enrollments e
				    WHERE e.user_id = s.user_id AND e.course_id = s.course_id);

-- from a JSON export of the old system's documents, one per line, as
-- \copy old_export (doc) FROM 'export.jsonl' would load it
CREATE TABLE old_export (line serial, doc jsonb);
INSERT INTO old_export (doc) VALUES
	('{"userId": "d1", "courseId": "c1", "price": 100, "amountPaid": 40, "amountDue": 60, "paymentStatus": "partial"}'),
	('{"userId": "d2", "courseId": "c1", "price": 100, "amountPaid": 100, "amountDue": 0, "paymentStatus": "paid"}'),
	('{"userId": "d3", "courseId": "c1", "price": 100, "amountPaid": 70, "amountDue": 40, "paymentStatus": "partial"}');

-- the recipe of docs/migrations.md
CREATE FUNCTION import_old_export() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	d record;
BEGIN
	FOR d IN SELECT line, doc FROM old_export ORDER BY line LOOP
		IF (d.doc->>'amountPaid')::numeric + (d.doc->>'amountDue')::numeric
		   <> (d.doc->>'price')::numeric THEN
			RAISE EXCEPTION 'line % (userId %, courseId %): amountPaid + amountDue is not price',
				d.line, d.doc->>'userId', d.doc->>'courseId'
				USING ERRCODE = '22E01', DETAIL = d.doc::text;
		END IF;
		PERFORM enrollment.import_enrollment(d.doc->>'userId', d.doc->>'courseId',
			(d.doc->>'price')::numeric, (d.doc->>'amountPaid')::numeric);
	END LOOP;
END
$$;

CREATE TEMP TABLE checksum_before_json AS SELECT tables_checksum() AS sum;
\set SHOW_CONTEXT never
SELECT import_old_export();
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors
SELECT tables_checksum() = sum AS nothing_changed FROM checksum_before_json;
-- fix the document, run again
UPDATE old_export SET doc = jsonb_set(doc, '{amountDue}', '30') WHERE doc->>'userId' = 'd3';
SELECT import_old_export();
-- the old status agrees with the one derived from the amounts
SELECT o.doc->>'userId' AS user_id, e.status, o.doc->>'paymentStatus' AS old_status
  FROM old_export o
  JOIN enrollment.enrollments e
	ON e.user_id = o.doc->>'userId' AND e.course_id = o.doc->>'courseId'
 ORDER BY 1;
SELECT * FROM enrollment.verify();
DROP FUNCTION import_old_export();
DROP TABLE staging, old_export;
