/* enrollment--1.0--1.1.sql: upgrade of the enrollment extension to 1.1 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION enrollment UPDATE TO '1.1'" to load this file. \quit

-- A fresh install of 1.1 runs enrollment--1.1.sql, which make builds from
-- enrollment--1.0.sql and this script (see the Makefile), so an upgraded
-- database and a new one have the same schema.

--
-- On a Citus cluster, ALTER EXTENSION runs this script on every node (the
-- coordinator sends it to each worker), so each node changes only its own
-- copy of a table and the shards placed on it, with Citus's DDL propagation
-- off.  Without Citus, the helper is a plain EXECUTE.
--
CREATE FUNCTION enrollment.alter_table_on_this_node(relation regclass,
													 command text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET citus.enable_ddl_propagation = off
AS $alter$
DECLARE
	shard bigint;
BEGIN
	EXECUTE command;
	IF to_regclass('pg_catalog.pg_dist_placement') IS NULL THEN
		RETURN;
	END IF;
	FOR shard IN EXECUTE
		'SELECT s.shardid
		   FROM pg_catalog.pg_dist_shard s
		   JOIN pg_catalog.pg_dist_placement p ON p.shardid = s.shardid
		  WHERE s.logicalrelid = $1
		    AND p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group)'
		USING relation
	LOOP
		EXECUTE 'SELECT pg_catalog.worker_apply_shard_ddl_command($1, $2, $3)'
			USING shard, 'enrollment', command;
	END LOOP;
END
$alter$;

--
-- Two statuses that end an enrollment: cancelled (refunds may follow) and
-- refunded (everything paid was given back).  Values added to an enum
-- cannot be used in the transaction that adds them, so the constraint
-- below compares them as text.
--
ALTER TYPE enrollment.payment_status ADD VALUE 'cancelled';
ALTER TYPE enrollment.payment_status ADD VALUE 'refunded';

SELECT enrollment.alter_table_on_this_node('enrollment.enrollments', $ddl$
ALTER TABLE enrollment.enrollments
	DROP CONSTRAINT status_matches_amounts,
	ADD CONSTRAINT status_matches_amounts CHECK (
		(status OPERATOR(pg_catalog.=) 'pending'
		 AND amount_paid OPERATOR(pg_catalog.=) 0
		 AND amount_due OPERATOR(pg_catalog.>) 0)
		OR (status OPERATOR(pg_catalog.=) 'partial'
			AND amount_paid OPERATOR(pg_catalog.>) 0
			AND amount_due OPERATOR(pg_catalog.>) 0)
		OR (status OPERATOR(pg_catalog.=) 'paid'
			AND amount_due OPERATOR(pg_catalog.=) 0)
		OR CAST(status AS pg_catalog.text) OPERATOR(pg_catalog.=) 'cancelled'
		OR (CAST(status AS pg_catalog.text) OPERATOR(pg_catalog.=) 'refunded'
			AND amount_paid OPERATOR(pg_catalog.=) 0))
$ddl$);

--
-- The ledger records every event: its kind, the change it made to the
-- amount paid (positive for a payment or an import, negative for a
-- refund, zero for a cancellation or a price change), and its reason.
-- Rows written by 1.0 are payments.
--
CREATE TYPE enrollment.event_kind AS ENUM
	('payment', 'refund', 'cancel', 'price_change', 'import');

SELECT enrollment.alter_table_on_this_node('enrollment.payments', $ddl$
ALTER TABLE enrollment.payments
	ADD COLUMN kind enrollment.event_kind NOT NULL DEFAULT 'payment',
	ADD COLUMN reason text,
	DROP CONSTRAINT amount_positive,
	ADD CONSTRAINT amount_matches_kind CHECK (
		(kind OPERATOR(pg_catalog.=) 'payment'
		 AND amount OPERATOR(pg_catalog.>) 0)
		OR (kind OPERATOR(pg_catalog.=) 'refund'
			AND amount OPERATOR(pg_catalog.<) 0)
		OR (kind OPERATOR(pg_catalog.=) 'import'
			AND amount OPERATOR(pg_catalog.>=) 0)
		OR (kind OPERATOR(pg_catalog.=) ANY ('{cancel,price_change}')
			AND amount OPERATOR(pg_catalog.=) 0)),
	ADD CONSTRAINT reason_length CHECK (
		pg_catalog.length(reason) OPERATOR(pg_catalog.<=) 1000)
$ddl$);
-- every writer names the kind
SELECT enrollment.alter_table_on_this_node('enrollment.payments',
	'ALTER TABLE enrollment.payments ALTER COLUMN kind DROP DEFAULT');
DROP FUNCTION enrollment.alter_table_on_this_node(regclass, text);

--
-- Functions
--
CREATE FUNCTION enrollment.refund_payment(
	user_id text,
	course_id text,
	amount numeric,
	idempotency_key text DEFAULT NULL,
	reason text DEFAULT NULL)
RETURNS enrollment.payment_result
AS 'MODULE_PATHNAME', 'refund_payment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION enrollment.cancel_enrollment(
	user_id text,
	course_id text,
	reason text DEFAULT NULL)
RETURNS enrollment.enrollments
AS 'MODULE_PATHNAME', 'cancel_enrollment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION enrollment.change_price(
	user_id text,
	course_id text,
	new_price numeric,
	reason text DEFAULT NULL)
RETURNS enrollment.enrollments
AS 'MODULE_PATHNAME', 'change_price'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION enrollment.import_enrollment(
	user_id text,
	course_id text,
	price numeric,
	amount_paid numeric,
	currency text DEFAULT 'USD',
	enrolled_at timestamptz DEFAULT NULL)
RETURNS enrollment.enrollments
AS 'MODULE_PATHNAME', 'import_enrollment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Readers run with the caller's rights: they need SELECT on the tables.
CREATE FUNCTION enrollment.history(user_id text, course_id text)
RETURNS SETOF enrollment.payments
AS 'MODULE_PATHNAME', 'history'
LANGUAGE C STABLE;

-- One row per problem: an enrollment whose amounts or status disagree with
-- its ledger.  Always empty unless the tables were written around the
-- functions.
CREATE FUNCTION enrollment.verify()
RETURNS TABLE (user_id text, course_id text, problem text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT e.user_id, e.course_id,
		   format('amount_paid is %s but the ledger adds up to %s',
				  e.amount_paid, coalesce(l.total, 0))
	  FROM enrollment.enrollments e
	  LEFT JOIN (SELECT p.user_id, p.course_id, sum(p.amount) AS total
				   FROM enrollment.payments p
				  GROUP BY p.user_id, p.course_id) l
			 ON l.user_id = e.user_id AND l.course_id = e.course_id
	 WHERE e.amount_paid <> coalesce(l.total, 0)
	UNION ALL
	SELECT e.user_id, e.course_id,
		   format('the enrollment (%s paid, %s due, %s) differs from its last ledger row (%s paid, %s due, %s)',
				  e.amount_paid, e.amount_due, e.status,
				  last.amount_paid_after, last.amount_due_after, last.status_after)
	  FROM enrollment.enrollments e
	  JOIN LATERAL (SELECT p.amount_paid_after, p.amount_due_after, p.status_after
					  FROM enrollment.payments p
					 WHERE p.user_id = e.user_id AND p.course_id = e.course_id
					 ORDER BY p.payment_id DESC
					 LIMIT 1) last ON true
	 WHERE (e.amount_paid, e.amount_due, e.status)
		   IS DISTINCT FROM (last.amount_paid_after, last.amount_due_after,
							 last.status_after)
	UNION ALL
	SELECT e.user_id, e.course_id,
		   format('status %s with nothing in the ledger', e.status)
	  FROM enrollment.enrollments e
	 WHERE e.status NOT IN ('pending', 'paid')
	   AND NOT EXISTS (SELECT FROM enrollment.payments p
					    WHERE p.user_id = e.user_id AND p.course_id = e.course_id)
	 ORDER BY 1, 2, 3
$$;

--
-- Privileges: nothing for PUBLIC; see the README for the grant recipe.
--
REVOKE ALL ON FUNCTION enrollment.refund_payment(text, text, numeric, text, text)
	FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.cancel_enrollment(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.change_price(text, text, numeric, text)
	FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.import_enrollment(text, text, numeric, numeric,
	text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.history(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.verify() FROM PUBLIC;
