/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  The append-only payment ledger and idempotency keys.
 *
 * Every applied payment adds one row to enrollment.payments, with the
 * amounts and status it left behind, the server's clock and the session
 * user.  An idempotency key is unique per user: a retried call finds the
 * row its first attempt wrote and returns it instead of paying again.
 * The ledger is never updated, deleted or truncated: a statement trigger
 * refuses that, whoever asks (23E05).
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/*
 * The ledger columns that make up an enrollment.payment_result, in its
 * order; replayed is filled in by the caller of the statement.
 */
#define LEDGER_RESULT_COLUMNS(replayed) \
	"payment_id, user_id, course_id, amount, amount_paid_after," \
	" amount_due_after, status_after, " replayed ", created_at"

static void
KeepFirstRow(LedgerEntry *entry)
{
	entry->tuple = SPI_tuptable->vals[0];
	entry->tupdesc = SPI_tuptable->tupdesc;
}

/*
 * Find the payment that user_id made with idempotency_key.  Needs an SPI
 * connection; call it with the enrollment locked, so that a payment
 * committed by a concurrent call with the same key is seen.
 */
bool
LedgerFindKey(text *user_id, text *idempotency_key, LedgerEntry *entry)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	SavedPlan(&plan,
			  "SELECT " LEDGER_RESULT_COLUMNS("true")
			  "  FROM enrollment.payments"
			  " WHERE user_id OPERATOR(pg_catalog.=) $1"
			  "   AND idempotency_key OPERATOR(pg_catalog.=) $2",
			  2, argtypes);

	values[0] = PointerGetDatum(user_id);
	values[1] = PointerGetDatum(idempotency_key);
	if (ExecuteSavedPlan(plan, values, NULL, SPI_OK_SELECT) == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	KeepFirstRow(entry);
	return true;
}

/*
 * Append a payment to the ledger.  Returns false, writing nothing, if its
 * idempotency key was taken meanwhile by a concurrent call for another
 * enrollment of the same user; the caller must then raise an error, which
 * also undoes its update of the enrollment.
 */
bool
LedgerAppend(const NewPayment *payment, LedgerEntry *entry)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[8] = {TEXTOID, TEXTOID, NUMERICOID, TEXTOID,
	NUMERICOID, NUMERICOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[8];
	char		nulls[8] = "        ";

	SavedPlan(&plan,
			  "INSERT INTO enrollment.payments"
			  " (user_id, course_id, amount, idempotency_key,"
			  "  amount_paid_after, amount_due_after, status_after,"
			  "  created_at, created_by)"
			  " VALUES ($1, $2, $3, $4, $5, $6,"
			  "  CAST($7 AS enrollment.payment_status), $8, SESSION_USER)"
			  " ON CONFLICT (user_id, idempotency_key) DO NOTHING"
			  " RETURNING " LEDGER_RESULT_COLUMNS("false"),
			  8, argtypes);

	values[0] = PointerGetDatum(payment->user_id);
	values[1] = PointerGetDatum(payment->course_id);
	values[2] = NumericGetDatum(MinorUnitsToNumeric(payment->amount,
													payment->currency));
	if (payment->idempotency_key != NULL)
		values[3] = PointerGetDatum(payment->idempotency_key);
	else
		nulls[3] = 'n';
	values[4] = NumericGetDatum(MinorUnitsToNumeric(payment->amount_paid_after,
													payment->currency));
	values[5] = NumericGetDatum(MinorUnitsToNumeric(payment->amount_due_after,
													payment->currency));
	values[6] = CStringGetTextDatum(StatusLabel(payment->status_after));
	values[7] = TimestampTzGetDatum(payment->created_at);

	if (ExecuteSavedPlan(plan, values, nulls, SPI_OK_INSERT_RETURNING) == 0)
		return false;
	KeepFirstRow(entry);
	return true;
}

/*
 * Trigger function: refuse UPDATE, DELETE and TRUNCATE of the ledger.
 */
PG_FUNCTION_INFO_V1(refuse_ledger_change);

Datum
refuse_ledger_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *operation;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("refuse_ledger_change() must be called as a trigger")));

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		operation = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		operation = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		operation = "TRUNCATE";
	else
		operation = "this operation";

	ereport(ERROR,
			(errcode(ERRCODE_ENROLLMENT_LEDGER_APPEND_ONLY),
			 errmsg("the payment ledger is append-only"),
			 errdetail("%s on table \"%s\" is not allowed.",
					   operation, RelationGetRelationName(trigdata->tg_relation))));
	PG_RETURN_NULL();
}
