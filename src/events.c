/*-------------------------------------------------------------------------
 *
 * events.c
 *	  One change event per ledger row: a transactional logical decoding
 *	  message in the WAL (enrollment.events = wal, the default), or a
 *	  NOTIFY enrollment_events (notify), or nothing (off).
 *
 * Every event that changes an enrollment (not a replay) sends a JSON
 * object:
 *
 *	{"user_id": "...", "course_id": "...", "kind": "payment",
 *	 "amount": 10.00, "amount_paid": 60.00, "amount_due": 40.00,
 *	 "status": "partial", "previous_status": "pending", "payment_id": 17}
 *
 * amount is the change to amount_paid (negative for a refund), amounts are
 * JSON numbers written exactly as stored.  Both mechanisms deliver an event
 * only if its transaction commits, in commit order.  Databases still on
 * version 1.0 of the extension send none, as before.
 *
 * wal: the message (prefix "enrollment", as pg_logical_emit_message(true,
 * 'enrollment', payload) writes it) is part of the transaction's WAL, so a
 * logical replication slot (pgoutput with messages 'true', or
 * test_decoding) hands it to a consumer exactly once per confirmed
 * position, across disconnects and crashes.  It costs one small WAL record
 * and no lock; it is written only when wal_level is logical, since no slot
 * can decode WAL written below that level.
 *
 * notify: PostgreSQL makes every transaction that sends a notification
 * hold a database-wide lock from just before its commit until after it,
 * so transactions that notify commit one at a time, which halves the
 * payments per second of concurrent clients; and a listener that was
 * disconnected misses what was sent meanwhile.  It stays as a low-latency
 * wake-up for those who want one.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/xlog.h"
#include "commands/async.h"
#include "lib/stringinfo.h"
#include "replication/message.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"

#define EVENTS_CHANNEL "enrollment_events"
#define EVENTS_MESSAGE_PREFIX "enrollment"

typedef enum EventsMechanism
{
	EVENTS_OFF,
	EVENTS_WAL,
	EVENTS_NOTIFY
} EventsMechanism;

static const struct config_enum_entry events_options[] = {
	{"wal", EVENTS_WAL, false},
	{"notify", EVENTS_NOTIFY, false},
	{"off", EVENTS_OFF, false},
	/* the boolean values of 1.1 before wal, when on meant NOTIFY */
	{"on", EVENTS_NOTIFY, true},
	{"true", EVENTS_NOTIFY, true},
	{"yes", EVENTS_NOTIFY, true},
	{"1", EVENTS_NOTIFY, true},
	{"false", EVENTS_OFF, true},
	{"no", EVENTS_OFF, true},
	{"0", EVENTS_OFF, true},
	{NULL, 0, false}
};

/* enrollment.events: how change events are sent */
static int	enrollment_events = EVENTS_WAL;

void
DefineEventSettings(void)
{
	DefineCustomEnumVariable("enrollment.events",
							 "How each change to an enrollment is announced: wal, notify or off.",
							 "wal writes a logical decoding message (prefix enrollment) "
							 "when wal_level is logical; notify sends NOTIFY enrollment_events.",
							 &enrollment_events,
							 EVENTS_WAL,
							 events_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

static void
AppendJsonText(StringInfo buf, const char *key, const char *value)
{
	appendStringInfo(buf, "\"%s\": ", key);
	escape_json(buf, value);
}

static void
AppendJsonNumeric(StringInfo buf, const char *key, Datum value)
{
	appendStringInfo(buf, ", \"%s\": %s", key,
					 DatumGetCString(DirectFunctionCall1(numeric_out, value)));
}

/*
 * Send the event of a new ledger row, described by payment and by *entry
 * (its payment_result columns), with the transaction.
 */
void
SendEvent(PaymentTables *tables, const NewPayment *payment,
		  EnrollmentStatus previous_status, const LedgerEntry *entry)
{
	StringInfoData buf;

	if (enrollment_events == EVENTS_OFF ||
		tables->catalog.payment.kind == InvalidAttrNumber)
		return;					/* turned off, or version 1.0 */
	if (enrollment_events == EVENTS_WAL && !XLogLogicalInfoActive())
		return;					/* nothing could decode the message */

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	AppendJsonText(&buf, "user_id", text_to_cstring(payment->user_id));
	appendStringInfoString(&buf, ", ");
	AppendJsonText(&buf, "course_id", text_to_cstring(payment->course_id));
	appendStringInfoString(&buf, ", ");
	AppendJsonText(&buf, "kind", EventKindLabel(payment->kind));
	AppendJsonNumeric(&buf, "amount", entry->values[RESULT_AMOUNT]);
	AppendJsonNumeric(&buf, "amount_paid", entry->values[RESULT_AMOUNT_PAID]);
	AppendJsonNumeric(&buf, "amount_due", entry->values[RESULT_AMOUNT_DUE]);
	appendStringInfoString(&buf, ", ");
	AppendJsonText(&buf, "status", StatusLabel(payment->status_after));
	appendStringInfoString(&buf, ", ");
	AppendJsonText(&buf, "previous_status", StatusLabel(previous_status));
	appendStringInfo(&buf, ", \"payment_id\": " INT64_FORMAT "}",
					 DatumGetInt64(entry->values[RESULT_PAYMENT_ID]));

	if (enrollment_events == EVENTS_WAL)
		WriteLogicalMessage(EVENTS_MESSAGE_PREFIX, buf.data, buf.len, true);
	else
		Async_Notify(EVENTS_CHANNEL, buf.data);
	pfree(buf.data);
}
