-- bench/setup.sql: the benchmark database.  Run by run.sh with psql
-- variables n_uniform (enrollments of the uniform scenario) and n_server
-- (enrollments of the server-side measurement).
--
-- Every contender has its own tables.  The extension's contenders
-- (enrollment, batch) use enrollment.enrollments and enrollment.payments;
-- the others use copies in the schema bench, with the same columns, keys,
-- CHECK constraints, foreign keys and storage parameters:
--   naive_*  the application's read-compute-write (no ledger)
--   pl_*     the PL/pgSQL contender (plpgsql_contender.sql)
--   sql_*    the one-statement atomic increment
-- Enrollments (all priced 1,000,000,000.00 USD, so that no payment of 0.01
-- is ever refused):
--   ('u1'..'u<n_uniform>', 'uniform')  the uniform scenario
--   ('u1', 'hot')                      the hot scenario
--   ('s1'..'s<n_server>', 'srv')       the server-side cost per call
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE EXTENSION enrollment;
CREATE SCHEMA bench;

CREATE TABLE bench.naive_enrollments (LIKE enrollment.enrollments INCLUDING ALL,
	FOREIGN KEY (currency) REFERENCES enrollment.currencies (code));

CREATE TABLE bench.pl_enrollments (LIKE enrollment.enrollments INCLUDING ALL,
	FOREIGN KEY (currency) REFERENCES enrollment.currencies (code));
CREATE TABLE bench.pl_payments (LIKE enrollment.payments INCLUDING ALL,
	FOREIGN KEY (user_id, course_id)
		REFERENCES bench.pl_enrollments (user_id, course_id));

CREATE TABLE bench.sql_enrollments (LIKE enrollment.enrollments INCLUDING ALL,
	FOREIGN KEY (currency) REFERENCES enrollment.currencies (code));
CREATE TABLE bench.sql_payments (LIKE enrollment.payments INCLUDING ALL,
	FOREIGN KEY (user_id, course_id)
		REFERENCES bench.sql_enrollments (user_id, course_id));

-- the copies get the extension's storage parameters too (LIKE does not
-- copy them), e.g. a fillfactor that lets payments update rows HOT
SELECT format('ALTER TABLE bench.%I SET (%s)', copy, array_to_string(c.reloptions, ', '))
  FROM (VALUES ('enrollment.enrollments'::regclass, 'naive_enrollments'),
               ('enrollment.enrollments', 'pl_enrollments'),
               ('enrollment.enrollments', 'sql_enrollments'),
               ('enrollment.payments', 'pl_payments'),
               ('enrollment.payments', 'sql_payments')) AS t(original, copy)
  JOIN pg_class c ON c.oid = t.original
 WHERE c.reloptions IS NOT NULL \gexec

-- the extension's enrollments, through its own function
SELECT count(enrollment.enroll(u, c, 1000000000))
  FROM (SELECT 'u' || i, 'uniform' FROM generate_series(1, :n_uniform) i
        UNION ALL SELECT 'u1', 'hot'
        UNION ALL SELECT 's' || i, 'srv' FROM generate_series(1, :n_server) i)
       AS e(u, c);

-- the same rows for every other contender
INSERT INTO bench.naive_enrollments SELECT * FROM enrollment.enrollments;
INSERT INTO bench.pl_enrollments SELECT * FROM enrollment.enrollments;
INSERT INTO bench.sql_enrollments SELECT * FROM enrollment.enrollments;

\ir plpgsql_contender.sql

VACUUM ANALYZE;
