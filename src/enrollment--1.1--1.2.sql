/* enrollment--1.1--1.2.sql: upgrade of the enrollment extension to 1.2 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION enrollment UPDATE TO '1.2'" to load this file. \quit

-- A fresh install of 1.2 runs enrollment--1.1.sql and then this script.

--
-- Event slots: logical replication slots (pgoutput) from which a role with
-- no other right reads the change events (enrollment.events = wal) through
-- read_events() and confirm_events(), which run as the extension's owner
-- and serve only the slots listed here, only the extension's messages.
-- The slots themselves are not dumped; the list is, so that after a
-- restore create_event_slot() makes the same slots again.
--
CREATE TABLE enrollment.event_slots (
	slot_name name PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('enrollment.event_slots', '');
REVOKE ALL ON enrollment.event_slots FROM PUBLIC;

-- Create a slot for events: for a DBA, since it takes the REPLICATION
-- attribute.  pgoutput must be given a publication, and one that existed
-- before the changes it decodes: the empty publication enrollment_events,
-- which the DBA creates first.  Returns the slot's first position.
CREATE FUNCTION enrollment.create_event_slot(slot_name name)
RETURNS pg_lsn
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
	start_lsn pg_lsn;
BEGIN
	IF slot_name IS NULL THEN
		RAISE EXCEPTION 'slot_name must not be null' USING ERRCODE = '22004';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_publication
				   WHERE pubname OPERATOR(pg_catalog.=) 'enrollment_events') THEN
		RAISE EXCEPTION 'publication "enrollment_events" does not exist'
			USING ERRCODE = '42704',
				  HINT = 'Create it first, in a transaction of its own: CREATE PUBLICATION enrollment_events;';
	END IF;
	-- first: a logical slot cannot be created once the transaction wrote
	SELECT s.lsn INTO start_lsn
	  FROM pg_catalog.pg_create_logical_replication_slot(slot_name, 'pgoutput') s;
	INSERT INTO enrollment.event_slots AS e (slot_name) VALUES (slot_name)
	ON CONFLICT ON CONSTRAINT event_slots_pkey DO UPDATE SET created_at = pg_catalog.now();
	RETURN start_lsn;
END
$function$;

-- Drop an event slot: the slot (if it still exists) and its entry.
CREATE FUNCTION enrollment.drop_event_slot(slot_name name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
	DELETE FROM enrollment.event_slots e
	 WHERE e.slot_name OPERATOR(pg_catalog.=) drop_event_slot.slot_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'there is no event slot named "%"', slot_name
			USING ERRCODE = '42704',
				  HINT = 'enrollment.event_slots lists the event slots.';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_replication_slots r
			   WHERE r.slot_name OPERATOR(pg_catalog.=) drop_event_slot.slot_name) THEN
		PERFORM pg_catalog.pg_drop_replication_slot(slot_name);
	END IF;
END
$function$;

-- The events of an event slot's next committed transactions, in commit
-- order, without consuming them: each with the position to confirm once
-- it is processed (its transaction's end), the transaction's id and the
-- payload.  Whole transactions only: decoding stops after the transaction
-- that brings the decoded rows (events, and a begin and a commit per
-- transaction) to max_events.
CREATE FUNCTION enrollment.read_events(slot_name name, max_events integer DEFAULT 1000)
RETURNS TABLE (commit_lsn pg_lsn, xid xid, event jsonb)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
	PERFORM enrollment.check_event_slot(slot_name);
	IF max_events IS NULL OR max_events < 1 THEN
		RAISE EXCEPTION 'max_events must be at least 1'
			USING ERRCODE = '22023', DETAIL = format('max_events is %s.', coalesce(max_events::text, 'null'));
	END IF;
	-- the rows of pgoutput: B(egin), M(essage), C(ommit), ...; a transactional
	-- message is 'M', flags 1, its LSN (8 bytes), the prefix and a zero
	-- byte, the length (4 bytes), then the payload from byte 26 on.  The
	-- position of a message is that of the first commit after it: the
	-- smallest commit position from it on, as they increase.
	RETURN QUERY
	SELECT d.commit_lsn, d.xid,
		   pg_catalog.convert_from(pg_catalog.substr(d.data, 26),
								   pg_catalog.getdatabaseencoding())::jsonb
	  FROM (SELECT c.xid, c.data, c.n,
				   pg_catalog.min(CASE WHEN pg_catalog.get_byte(c.data, 0) OPERATOR(pg_catalog.=) 67
									   THEN c.lsn END) OVER (ORDER BY c.n DESC) AS commit_lsn
			  FROM pg_catalog.pg_logical_slot_peek_binary_changes(slot_name, NULL, max_events,
					'proto_version', '1', 'publication_names', 'enrollment_events',
					'messages', 'true') WITH ORDINALITY AS c (lsn, xid, data, n)) d
	 WHERE pg_catalog.get_byte(d.data, 0) OPERATOR(pg_catalog.=) 77
	   AND pg_catalog.get_byte(d.data, 1) OPERATOR(pg_catalog.=) 1
	   AND pg_catalog.substr(d.data, 11, 11) OPERATOR(pg_catalog.=)
		   pg_catalog.decode('656e726f6c6c6d656e7400', 'hex')	-- 'enrollment', 0
	 ORDER BY d.n;
END
$function$;

-- Confirm that everything up to commit_lsn is processed: the slot releases
-- it, and read_events() starts after it.  Confirming a position at or
-- before the confirmed one changes nothing.  Returns the slot's confirmed
-- position.
CREATE FUNCTION enrollment.confirm_events(slot_name name, commit_lsn pg_lsn)
RETURNS pg_lsn
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
	confirmed pg_lsn;
BEGIN
	SELECT enrollment.check_event_slot(slot_name) INTO confirmed;
	IF commit_lsn IS NULL THEN
		RAISE EXCEPTION 'commit_lsn must not be null' USING ERRCODE = '22004';
	END IF;
	IF commit_lsn OPERATOR(pg_catalog.>) confirmed THEN
		SELECT a.end_lsn INTO confirmed
		  FROM pg_catalog.pg_replication_slot_advance(slot_name, commit_lsn) a;
	END IF;
	RETURN confirmed;
END
$function$;

-- An event slot's confirmed position; an error if slot_name is not an
-- event slot, if its slot is gone (a restored database), or if the slot
-- was invalidated (max_slot_wal_keep_size).
CREATE FUNCTION enrollment.check_event_slot(slot_name name)
RETURNS pg_lsn
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
	confirmed pg_lsn;
	status text;
BEGIN
	IF slot_name IS NULL THEN
		RAISE EXCEPTION 'slot_name must not be null' USING ERRCODE = '22004';
	END IF;
	IF NOT EXISTS (SELECT FROM enrollment.event_slots e
				   WHERE e.slot_name OPERATOR(pg_catalog.=) check_event_slot.slot_name) THEN
		RAISE EXCEPTION 'there is no event slot named "%"', slot_name
			USING ERRCODE = '42704',
				  HINT = 'A DBA creates one with enrollment.create_event_slot().';
	END IF;
	SELECT r.confirmed_flush_lsn, r.wal_status INTO confirmed, status
	  FROM pg_catalog.pg_replication_slots r
	 WHERE r.slot_name OPERATOR(pg_catalog.=) check_event_slot.slot_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'the replication slot of event slot "%" does not exist', slot_name
			USING ERRCODE = '42704',
				  HINT = 'Replication slots are not dumped nor copied to standbys: create it again with enrollment.create_event_slot().';
	END IF;
	IF status OPERATOR(pg_catalog.=) 'lost' THEN
		RAISE EXCEPTION 'event slot "%" was invalidated: its consumer has lost the stream', slot_name
			USING ERRCODE = '55000',
				  DETAIL = 'The slot held more WAL than max_slot_wal_keep_size allows.',
				  HINT = 'Catch up from enrollment.payments, then drop the slot and create it again.';
	END IF;
	RETURN confirmed;
END
$function$;

REVOKE ALL ON FUNCTION enrollment.create_event_slot(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.drop_event_slot(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.read_events(name, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.confirm_events(name, pg_lsn) FROM PUBLIC;
REVOKE ALL ON FUNCTION enrollment.check_event_slot(name) FROM PUBLIC;
