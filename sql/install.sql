--
-- Installing the extension, and the helpers the other tests use.
--

-- a schema "enrollment" that a non-superuser made beforehand is refused:
-- its owner could drop or replace the ledger
CREATE ROLE regress_squatter;
CREATE SCHEMA enrollment AUTHORIZATION regress_squatter;
\set SHOW_CONTEXT never
CREATE EXTENSION enrollment;
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'enrollment';
DROP SCHEMA enrollment;
DROP ROLE regress_squatter;

CREATE EXTENSION enrollment;

SELECT extname, extversion, extrelocatable, extnamespace::regnamespace
  FROM pg_extension WHERE extname = 'enrollment';

-- every object the extension owns; not the array types and the row types
-- of tables, which PostgreSQL 17 and later record as members too
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend d
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'enrollment')
   AND deptype = 'e'
   AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (t.typcategory = 'A' OR c.relkind <> 'c'))
 ORDER BY 1;

-- the functions are the only write path: definer rights, pinned path
SELECT p.proname, p.prosecdef, p.provolatile, p.proconfig,
       pg_get_function_arguments(p.oid) AS arguments
  FROM pg_proc p
 WHERE p.pronamespace = 'enrollment'::regnamespace
 ORDER BY 1;


-- helpers for the other tests (in public, not in the extension's schema)

-- a checksum of every row of both tables: equal before and after a call
-- proves that the call changed nothing
CREATE FUNCTION tables_checksum() RETURNS text LANGUAGE sql AS $$
	SELECT md5(
		coalesce((SELECT string_agg(e::text, ';' ORDER BY e.user_id, e.course_id)
		            FROM enrollment.enrollments e), '') || '|' ||
		coalesce((SELECT string_agg(p::text, ';' ORDER BY p.payment_id)
		            FROM enrollment.payments p), ''))
$$;

-- run a statement and report "ok" or its SQLSTATE and message
CREATE FUNCTION outcome(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE statement;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- an enrollment without its timestamps (they come from the clock)
CREATE FUNCTION balance(u text, c text,
	OUT price numeric, OUT amount_paid numeric, OUT amount_due numeric,
	OUT status enrollment.payment_status, OUT paid boolean)
LANGUAGE sql AS $$
	SELECT price, amount_paid, amount_due, status, paid_at IS NOT NULL
	  FROM enrollment.enrollments WHERE user_id = u AND course_id = c
$$;

-- the ledger of one enrollment, without timestamps
CREATE FUNCTION ledger(u text, c text) RETURNS TABLE (
	amount numeric, idempotency_key text, amount_paid_after numeric,
	amount_due_after numeric, status_after enrollment.payment_status)
LANGUAGE sql AS $$
	SELECT amount, idempotency_key, amount_paid_after, amount_due_after,
	       status_after
	  FROM enrollment.payments WHERE user_id = u AND course_id = c
	 ORDER BY payment_id
$$;
