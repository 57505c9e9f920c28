/*-------------------------------------------------------------------------
 *
 * enrollment.c
 *	  The SQL-callable functions: their arguments and results.  enroll(),
 *	  apply_payment() and pay_remaining_balance() since version 1.0;
 *	  refund_payment(), cancel_enrollment(), change_price(),
 *	  import_enrollment() and history() since 1.1.  apply_payments() is in
 *	  batch.c.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineTableAccessSetting();
	DefineEventSettings();
	MarkGUCPrefixReserved("enrollment");
}

/*
 * Build the function's composite result from a row returned by SPI, in the
 * caller's memory context so that it survives SPI_finish().  The row's
 * columns match the result type's live columns, in order.
 */
static Datum
ResultFromSPIRow(FunctionCallInfo fcinfo, HeapTuple row, TupleDesc rowdesc,
				 MemoryContext caller)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(caller);
	TupleDesc	resultdesc;
	Datum	   *values;
	bool	   *nulls;
	int			rowatt = 0;
	Datum		result;

	if (get_call_result_type(fcinfo, NULL, &resultdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function returning a row called in a context that cannot accept one");
	resultdesc = BlessTupleDesc(resultdesc);

	values = palloc(resultdesc->natts * sizeof(Datum));
	nulls = palloc(resultdesc->natts * sizeof(bool));
	for (int i = 0; i < resultdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(resultdesc, i);

		if (att->attisdropped)
		{
			nulls[i] = true;
			continue;
		}
		if (rowatt >= rowdesc->natts ||
			SPI_gettypeid(rowdesc, rowatt + 1) != att->atttypid)
			elog(ERROR, "result row does not match the type of column \"%s\"",
				 NameStr(att->attname));
		values[i] = SPI_getbinval(row, rowdesc, ++rowatt, &nulls[i]);
	}
	if (rowatt != rowdesc->natts)
		elog(ERROR, "result row has more columns than the result type");

	result = HeapTupleGetDatum(heap_form_tuple(resultdesc, values, nulls));
	MemoryContextSwitchTo(oldcontext);
	return result;
}

/*
 * Apply one payment request and return its enrollment.payment_result.
 */
static Datum
PaymentResult(FunctionCallInfo fcinfo, const PaymentRequest *request)
{
	PaymentTables tables;
	LedgerEntry entry;
	TupleDesc	resultdesc;
	Datum		result;

	if (get_call_result_type(fcinfo, NULL, &resultdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function returning a row called in a context that cannot accept one");
	resultdesc = BlessTupleDesc(resultdesc);

	CheckPaymentRequest(request);
	OpenPaymentTables(&tables);
	ApplyPaymentRequest(&tables, request, &entry);
	result = HeapTupleGetDatum(heap_form_tuple(resultdesc, entry.values,
											   entry.nulls));
	ClosePaymentTables(&tables);
	return result;
}

/*
 * Apply one request that changes an enrollment (no idempotency key) and
 * return the enrollment as it is afterwards.
 */
static Datum
EnrollmentAfter(FunctionCallInfo fcinfo, const PaymentRequest *request)
{
	PaymentTables tables;
	LedgerEntry entry;
	Datum		result;

	CheckPaymentRequest(request);
	OpenPaymentTables(&tables);
	ApplyPaymentRequest(&tables, request, &entry);
	/* the row EndEnrollmentRun() wrote, copied to this memory context */
	if (tables.by_sql)
		result = ResultFromSPIRow(fcinfo, tables.updated_row,
								  tables.updated_row_desc, CurrentMemoryContext);
	else
		result = ExecFetchSlotHeapTupleDatum(tables.new_enrollment_slot);
	ClosePaymentTables(&tables);
	return result;
}

/*
 * Insert an enrollment with nothing paid, created at created_at and
 * updated now, and return it; raise 23E01 if it exists.
 */
static Datum
InsertEnrollment(FunctionCallInfo fcinfo, text *user_id, text *course_id,
				 Numeric price, const char *currency_code,
				 TimestampTz created_at, TimestampTz now)
{
	static SPIPlanPtr plan = NULL;
	MemoryContext caller = CurrentMemoryContext;
	Currency	currency;
	int64		price_minor_units;
	EnrollmentStatus status;
	Oid			argtypes[9] = {TEXTOID, TEXTOID, TEXTOID, NUMERICOID,
		NUMERICOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9];
	Datum		result;

	memset(nulls, ' ', sizeof(nulls));
	CheckAmount(price, "price", true);
	PreventCommandIfReadOnly("enroll()");

	ConnectSPI();

	LookupCurrency(currency_code, &currency);
	price_minor_units = AmountToMinorUnits(price, &currency, "price");
	status = StatusForAmounts(0, price_minor_units);

	SavedPlan(&plan,
			  "INSERT INTO enrollment.enrollments"
			  " (user_id, course_id, currency, price, amount_paid, amount_due,"
			  "  status, created_at, updated_at, paid_at)"
			  " VALUES ($1, $2, $3, $4, $5, $4,"
			  "  CAST($6 AS enrollment.payment_status), $7, $8, $9)"
			  " ON CONFLICT (user_id, course_id) DO NOTHING"
			  " RETURNING *",
			  9, argtypes);

	values[0] = PointerGetDatum(user_id);
	values[1] = PointerGetDatum(course_id);
	values[2] = CStringGetTextDatum(currency.code);
	values[3] = NumericGetDatum(MinorUnitsToNumeric(price_minor_units, &currency));
	values[4] = NumericGetDatum(MinorUnitsToNumeric(0, &currency));
	values[5] = CStringGetTextDatum(StatusLabel(status));
	values[6] = TimestampTzGetDatum(created_at);
	values[7] = TimestampTzGetDatum(now);
	if (status == ENROLLMENT_PAID)
		values[8] = TimestampTzGetDatum(now);
	else
		nulls[8] = 'n';

	if (ExecuteSavedPlan(plan, values, nulls, false,
						 SPI_OK_INSERT_RETURNING) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_EXISTS),
				 errmsg("enrollment already exists"),
				 errdetail("User \"%s\" is already enrolled in course \"%s\".",
						   text_to_cstring(user_id), text_to_cstring(course_id))));

	result = ResultFromSPIRow(fcinfo, SPI_tuptable->vals[0],
							  SPI_tuptable->tupdesc, caller);
	SPI_finish();
	return result;
}

/*
 * enroll(user_id, course_id, price, currency): create an enrollment.
 */
PG_FUNCTION_INFO_V1(enroll);

Datum
enroll(PG_FUNCTION_ARGS)
{
	text	   *user_id = IdentifierArgument(fcinfo, 0, "user_id");
	text	   *course_id = IdentifierArgument(fcinfo, 1, "course_id");
	Numeric		price = NumericArgument(fcinfo, 2, "price");
	char	   *currency_code = TextArgumentCString(fcinfo, 3, "currency");
	TimestampTz now = GetCurrentTimestamp();

	PG_RETURN_DATUM(InsertEnrollment(fcinfo, user_id, course_id, price,
									 currency_code, now, now));
}

/*
 * apply_payment(user_id, course_id, amount, idempotency_key): pay an
 * amount towards an enrollment.
 */
PG_FUNCTION_INFO_V1(apply_payment);

Datum
apply_payment(PG_FUNCTION_ARGS)
{
	PaymentRequest request;

	request.kind = EVENT_PAYMENT;
	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	request.amount = NumericArgument(fcinfo, 2, "amount");
	request.amount_argname = "amount";
	request.idempotency_key = OptionalIdentifierArgument(fcinfo, 3, "idempotency_key");
	request.reason = NULL;
	request.pay_remaining = false;

	PG_RETURN_DATUM(PaymentResult(fcinfo, &request));
}

/*
 * pay_remaining_balance(user_id, course_id, idempotency_key,
 * expected_amount): pay exactly what is due when the row is locked.
 */
PG_FUNCTION_INFO_V1(pay_remaining_balance);

Datum
pay_remaining_balance(PG_FUNCTION_ARGS)
{
	PaymentRequest request;

	request.kind = EVENT_PAYMENT;
	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	request.idempotency_key = OptionalIdentifierArgument(fcinfo, 2, "idempotency_key");
	request.amount = PG_ARGISNULL(3) ? NULL : PG_GETARG_NUMERIC(3);
	request.amount_argname = "expected_amount";
	request.reason = NULL;
	request.pay_remaining = true;

	PG_RETURN_DATUM(PaymentResult(fcinfo, &request));
}

/*
 * refund_payment(user_id, course_id, amount, idempotency_key, reason):
 * give back part or all of what was paid.
 */
PG_FUNCTION_INFO_V1(refund_payment);

Datum
refund_payment(PG_FUNCTION_ARGS)
{
	PaymentRequest request;

	request.kind = EVENT_REFUND;
	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	request.amount = NumericArgument(fcinfo, 2, "amount");
	request.amount_argname = "amount";
	request.idempotency_key = OptionalIdentifierArgument(fcinfo, 3, "idempotency_key");
	request.reason = ReasonArgument(fcinfo, 4);
	request.pay_remaining = false;

	PG_RETURN_DATUM(PaymentResult(fcinfo, &request));
}

/*
 * cancel_enrollment(user_id, course_id, reason): close an enrollment;
 * only refunds may follow.
 */
PG_FUNCTION_INFO_V1(cancel_enrollment);

Datum
cancel_enrollment(PG_FUNCTION_ARGS)
{
	PaymentRequest request = {0};

	request.kind = EVENT_CANCEL;
	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	request.reason = ReasonArgument(fcinfo, 2);

	PG_RETURN_DATUM(EnrollmentAfter(fcinfo, &request));
}

/*
 * change_price(user_id, course_id, new_price, reason): a coupon, a price
 * correction; the status follows the new amounts.
 */
PG_FUNCTION_INFO_V1(change_price);

Datum
change_price(PG_FUNCTION_ARGS)
{
	PaymentRequest request = {0};

	request.kind = EVENT_PRICE_CHANGE;
	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	request.amount = NumericArgument(fcinfo, 2, "new_price");
	request.amount_argname = "new_price";
	request.reason = ReasonArgument(fcinfo, 3);

	PG_RETURN_DATUM(EnrollmentAfter(fcinfo, &request));
}

/*
 * import_enrollment(user_id, course_id, price, amount_paid, currency,
 * enrolled_at): bring an enrollment over from another system, with an
 * opening ledger row for what was paid there.
 */
PG_FUNCTION_INFO_V1(import_enrollment);

Datum
import_enrollment(PG_FUNCTION_ARGS)
{
	PaymentRequest request = {0};
	Numeric		price;
	char	   *currency_code;
	TimestampTz enrolled_at = GetCurrentTimestamp();

	request.kind = EVENT_IMPORT;
	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	price = NumericArgument(fcinfo, 2, "price");
	request.amount = NumericArgument(fcinfo, 3, "amount_paid");
	request.amount_argname = "amount_paid";
	currency_code = TextArgumentCString(fcinfo, 4, "currency");
	if (!PG_ARGISNULL(5))
	{
		enrolled_at = PG_GETARG_TIMESTAMPTZ(5);
		if (TIMESTAMP_NOT_FINITE(enrolled_at))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("enrolled_at must be finite")));
	}
	CheckPaymentRequest(&request);

	(void) InsertEnrollment(fcinfo, request.user_id, request.course_id, price,
							currency_code, enrolled_at, GetCurrentTimestamp());
	PG_RETURN_DATUM(EnrollmentAfter(fcinfo, &request));
}

/*
 * history(user_id, course_id): the ledger rows of one enrollment, oldest
 * first.  Runs with the caller's rights: SELECT on the ledger is needed.
 */
PG_FUNCTION_INFO_V1(history);

Datum
history(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	values[0] = PointerGetDatum(IdentifierArgument(fcinfo, 0, "user_id"));
	values[1] = PointerGetDatum(IdentifierArgument(fcinfo, 1, "course_id"));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	ConnectSPI();
	/* whole rows: the result type has the table's dropped columns too */
	SavedPlan(&plan,
			  "SELECT p FROM enrollment.payments p"
			  " WHERE p.user_id OPERATOR(pg_catalog.=) $1"
			  "   AND p.course_id OPERATOR(pg_catalog.=) $2"
			  " ORDER BY p.payment_id",
			  2, argtypes);
	ExecuteSavedPlan(plan, values, NULL, true, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTupleHeader row;
		HeapTupleData tuple;

		row = DatumGetHeapTupleHeader(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc,
													1, &isnull));
		tuple.t_len = HeapTupleHeaderGetDatumLength(row);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = row;
		tuplestore_puttuple(rsinfo->setResult, &tuple);
	}
	SPI_finish();
	return (Datum) 0;
}
