-- bench/plpgsql_contender.sql: enrollment.apply_payment() written in
-- PL/pgSQL, the fair alternative to the C extension.  Same contract (see the
-- docs/reference.md): same arguments, result type, SQLSTATEs, locking, idempotency and
-- ledger, on the copies bench.pl_enrollments and bench.pl_payments.  Written
-- to be fast: four statements on the common path (lock, key lookup when a
-- key is given, UPDATE, INSERT), the checks of the arguments as plain
-- expressions, the slow work of choosing an error message only on failure.
-- It does not re-validate the stored amounts (the C code does, for XX001),
-- which only makes it a little faster.
-- Needs the tables of bench/setup.sql.

-- Raise the 22E03 error that an invalid identifier deserves.  Called only
-- when the fast check in apply_payment() failed.
CREATE FUNCTION bench.identifier_error(value text, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value = '' THEN
		RAISE EXCEPTION '% must not be empty', argname USING ERRCODE = '22E03';
	ELSIF char_length(value) > 255 THEN
		RAISE EXCEPTION '% is too long', argname USING ERRCODE = '22E03',
			DETAIL = format('It has %s characters; at most 255 are allowed.',
							char_length(value));
	ELSIF value ~ '[\x01-\x1f\x7f\u0080-\u009f]' THEN
		RAISE EXCEPTION '% must not contain control characters', argname
			USING ERRCODE = '22E03';
	ELSE
		RAISE EXCEPTION '% must not start or end with a space', argname
			USING ERRCODE = '22E03';
	END IF;
END
$$;

CREATE FUNCTION bench.apply_payment(
	user_id text,
	course_id text,
	amount numeric,
	idempotency_key text DEFAULT NULL)
RETURNS enrollment.payment_result
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	uid text := apply_payment.user_id;
	cid text := apply_payment.course_id;
	amt numeric := apply_payment.amount;
	ikey text := apply_payment.idempotency_key;
	paid numeric;
	due numeric;
	st enrollment.payment_status;
	cur text;
	minor smallint;
	now_ts timestamptz;
	result enrollment.payment_result;
BEGIN
	-- arguments: 22004, 22E03, 22E01
	IF uid IS NULL THEN
		RAISE EXCEPTION 'user_id must not be null' USING ERRCODE = '22004';
	ELSIF cid IS NULL THEN
		RAISE EXCEPTION 'course_id must not be null' USING ERRCODE = '22004';
	ELSIF amt IS NULL THEN
		RAISE EXCEPTION 'amount must not be null' USING ERRCODE = '22004';
	END IF;
	IF char_length(uid) NOT BETWEEN 1 AND 255 OR uid LIKE ' %' OR uid LIKE '% '
		OR uid ~ '[\x01-\x1f\x7f\u0080-\u009f]' THEN
		PERFORM bench.identifier_error(uid, 'user_id');
	END IF;
	IF char_length(cid) NOT BETWEEN 1 AND 255 OR cid LIKE ' %' OR cid LIKE '% '
		OR cid ~ '[\x01-\x1f\x7f\u0080-\u009f]' THEN
		PERFORM bench.identifier_error(cid, 'course_id');
	END IF;
	IF ikey IS NOT NULL AND (char_length(ikey) NOT BETWEEN 1 AND 255
		OR ikey LIKE ' %' OR ikey LIKE '% '
		OR ikey ~ '[\x01-\x1f\x7f\u0080-\u009f]') THEN
		PERFORM bench.identifier_error(ikey, 'idempotency_key');
	END IF;
	-- NaN compares above every number, so this one test catches NaN and
	-- both infinities as well as the range
	IF NOT (amt > 0 AND amt <= 1000000000000) THEN
		IF amt IN ('NaN', 'Infinity', '-Infinity') THEN
			RAISE EXCEPTION 'amount must be a finite number' USING ERRCODE = '22E01';
		ELSIF amt <= 0 THEN
			RAISE EXCEPTION 'amount must be greater than zero' USING ERRCODE = '22E01';
		ELSE
			RAISE EXCEPTION 'amount is larger than the largest accepted amount'
				USING ERRCODE = '22E01';
		END IF;
	END IF;

	-- lock the enrollment, with its currency's minor unit (a scalar
	-- subquery: as a join, the generic plan hashes all 164 currencies on
	-- every call, about 8% slower)
	SELECT e.amount_paid, e.amount_due, e.status, e.currency,
		   (SELECT c.minor_unit FROM enrollment.currencies c
			 WHERE c.code = e.currency)
	  INTO paid, due, st, cur, minor
	  FROM bench.pl_enrollments e
	 WHERE e.user_id = uid AND e.course_id = cid
	   FOR NO KEY UPDATE OF e;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'enrollment does not exist' USING ERRCODE = '23E02';
	END IF;

	-- a retry: the first result, if it was the same payment
	IF ikey IS NOT NULL THEN
		SELECT p.payment_id, p.user_id, p.course_id, p.amount,
			   p.amount_paid_after, p.amount_due_after, p.status_after, true,
			   p.created_at
		  INTO result
		  FROM bench.pl_payments p
		 WHERE p.user_id = uid AND p.idempotency_key = ikey;
		IF FOUND THEN
			IF result.course_id <> cid OR result.amount <> amt THEN
				RAISE EXCEPTION 'idempotency key was already used with different parameters'
					USING ERRCODE = '23E04';
			END IF;
			RETURN result;
		END IF;
	END IF;

	-- validate against the locked row
	IF st = 'paid' THEN
		RAISE EXCEPTION 'enrollment is already paid' USING ERRCODE = '55E01';
	END IF;
	IF min_scale(amt) > minor THEN
		RAISE EXCEPTION 'amount has more decimal places than % allows', cur
			USING ERRCODE = '22E01';
	END IF;
	IF amt > due THEN
		RAISE EXCEPTION 'payment exceeds the amount due' USING ERRCODE = '23E03';
	END IF;

	-- pay: exact, stored with the currency's decimal places
	amt := round(amt, minor);
	paid := paid + amt;
	due := due - amt;
	st := CASE WHEN due = 0 THEN 'paid'
			   WHEN paid = 0 THEN 'pending'
			   ELSE 'partial' END;
	now_ts := clock_timestamp();

	UPDATE bench.pl_enrollments
	   SET amount_paid = paid, amount_due = due, status = st,
		   updated_at = now_ts,
		   paid_at = CASE WHEN st = 'paid' THEN now_ts END
	 WHERE user_id = uid AND course_id = cid;

	INSERT INTO bench.pl_payments
		(user_id, course_id, amount, kind, idempotency_key, amount_paid_after,
		 amount_due_after, status_after, created_at, created_by)
	VALUES (uid, cid, amt, 'payment', ikey, paid, due, st, now_ts, session_user)
	ON CONFLICT (user_id, idempotency_key) DO NOTHING
	RETURNING payment_id, user_id, course_id, amount, amount_paid_after,
			  amount_due_after, status_after, false, created_at
	  INTO result;
	IF NOT FOUND THEN
		-- the key was taken meanwhile for another enrollment of this user
		RAISE EXCEPTION 'idempotency key was already used with different parameters'
			USING ERRCODE = '23E04';
	END IF;
	RETURN result;
END
$$;

REVOKE ALL ON FUNCTION bench.apply_payment(text, text, numeric, text) FROM PUBLIC;
