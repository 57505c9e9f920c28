/*-------------------------------------------------------------------------
 *
 * enrollment.c
 *	  The SQL-callable functions enroll(), apply_payment() and
 *	  pay_remaining_balance(): their arguments and results.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

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
 * enroll(user_id, course_id, price, currency): create an enrollment.
 */
PG_FUNCTION_INFO_V1(enroll);

Datum
enroll(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	MemoryContext caller = CurrentMemoryContext;
	text	   *user_id = IdentifierArgument(fcinfo, 0, "user_id");
	text	   *course_id = IdentifierArgument(fcinfo, 1, "course_id");
	Numeric		price = NumericArgument(fcinfo, 2, "price");
	char	   *currency_code = TextArgumentCString(fcinfo, 3, "currency");
	Currency	currency;
	int64		price_minor_units;
	EnrollmentStatus status;
	TimestampTz now = GetCurrentTimestamp();
	Oid			argtypes[8] = {TEXTOID, TEXTOID, TEXTOID, NUMERICOID,
	NUMERICOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[8];
	char		nulls[8] = "        ";
	Datum		result;

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
			  "  CAST($6 AS enrollment.payment_status), $7, $7, $8)"
			  " ON CONFLICT (user_id, course_id) DO NOTHING"
			  " RETURNING *",
			  8, argtypes);

	values[0] = PointerGetDatum(user_id);
	values[1] = PointerGetDatum(course_id);
	values[2] = CStringGetTextDatum(currency.code);
	values[3] = NumericGetDatum(MinorUnitsToNumeric(price_minor_units, &currency));
	values[4] = NumericGetDatum(MinorUnitsToNumeric(0, &currency));
	values[5] = CStringGetTextDatum(StatusLabel(status));
	values[6] = TimestampTzGetDatum(now);
	if (status == ENROLLMENT_PAID)
		values[7] = TimestampTzGetDatum(now);
	else
		nulls[7] = 'n';

	if (ExecuteSavedPlan(plan, values, nulls, SPI_OK_INSERT_RETURNING) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_EXISTS),
				 errmsg("enrollment already exists"),
				 errdetail("User \"%s\" is already enrolled in course \"%s\".",
						   text_to_cstring(user_id), text_to_cstring(course_id))));

	result = ResultFromSPIRow(fcinfo, SPI_tuptable->vals[0],
							  SPI_tuptable->tupdesc, caller);
	SPI_finish();
	PG_RETURN_DATUM(result);
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

	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	request.amount = NumericArgument(fcinfo, 2, "amount");
	request.amount_argname = "amount";
	request.idempotency_key = OptionalIdentifierArgument(fcinfo, 3, "idempotency_key");
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

	request.user_id = IdentifierArgument(fcinfo, 0, "user_id");
	request.course_id = IdentifierArgument(fcinfo, 1, "course_id");
	request.idempotency_key = OptionalIdentifierArgument(fcinfo, 2, "idempotency_key");
	request.amount = PG_ARGISNULL(3) ? NULL : PG_GETARG_NUMERIC(3);
	request.amount_argname = "expected_amount";
	request.pay_remaining = true;

	PG_RETURN_DATUM(PaymentResult(fcinfo, &request));
}
