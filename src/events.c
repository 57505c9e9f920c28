/*-------------------------------------------------------------------------
 *
 * events.c
 *	  NOTIFY enrollment_events: one notification per event, at commit.
 *
 * Every event that changes an enrollment (not a replay) queues a
 * notification on the channel enrollment_events, with a JSON object as
 * payload:
 *
 *	{"user_id": "...", "course_id": "...", "kind": "payment",
 *	 "amount": 10.00, "amount_paid": 60.00, "amount_due": 40.00,
 *	 "status": "partial", "previous_status": "pending", "payment_id": 17}
 *
 * amount is the change to amount_paid (negative for a refund), amounts are
 * JSON numbers written exactly as stored.  PostgreSQL delivers
 * notifications when the transaction commits and drops them when it rolls
 * back, so listeners hear only of committed changes.  Databases still on
 * version 1.0 of the extension get none, as before.
 *
 * A superuser can turn this off (enrollment.events = off, usually with
 * ALTER DATABASE ... SET) where nothing listens: PostgreSQL makes every
 * transaction that sends a notification hold a database-wide lock from
 * just before its commit until after it, so that the queue's order is the
 * commit order.  Transactions that notify therefore commit one at a time,
 * which halves the payments per second of concurrent clients.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"

#define EVENTS_CHANNEL "enrollment_events"

/* enrollment.events: send the notifications */
static bool enrollment_events = true;

void
DefineEventSettings(void)
{
	DefineCustomBoolVariable("enrollment.events",
							 "Sends NOTIFY enrollment_events for every change to an enrollment.",
							 NULL,
							 &enrollment_events,
							 true,
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
 * Queue the notification of a new ledger row, described by payment and
 * by *entry (its payment_result columns).
 */
void
NotifyEvent(PaymentTables *tables, const NewPayment *payment,
			EnrollmentStatus previous_status, const LedgerEntry *entry)
{
	StringInfoData buf;

	if (!enrollment_events || tables->catalog.payment.kind == InvalidAttrNumber)
		return;					/* turned off, or version 1.0 */

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

	Async_Notify(EVENTS_CHANNEL, buf.data);
	pfree(buf.data);
}
