/*-------------------------------------------------------------------------
 *
 * enrollment.c
 *	  The SQL-callable functions: enroll(), apply_payment() and
 *	  pay_remaining_balance().
 *
 * A payment is one step under one row lock: lock the enrollment, replay
 * the earlier result if the idempotency key was used before, validate,
 * update the amounts and status, append to the ledger.  Any error undoes
 * all of it, because it aborts the caller's (sub)transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

/* What a payment call asks for. */
typedef struct PaymentRequest
{
	text	   *user_id;
	text	   *course_id;
	text	   *idempotency_key;	/* NULL when none */
	bool		pay_remaining;	/* pay whatever is due, not a given amount */
	Numeric		amount;			/* the amount, or the expected amount due
								 * (NULL if not given) */
	const char *amount_argname;
} PaymentRequest;

static void
ConnectSPI(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
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
 * Raise 23E04 unless the earlier payment with this request's idempotency
 * key was made for the same course and amount as this request asks for.
 */
static void
CheckReplayMatchesRequest(const PaymentRequest *request,
						  const LedgerEntry *earlier)
{
	bool		isnull;
	text	   *course_id;
	Numeric		amount;
	bool		same_course;
	bool		same_amount;

	course_id = DatumGetTextPP(SPI_getbinval(earlier->tuple, earlier->tupdesc,
											 LEDGER_COL_COURSE_ID, &isnull));
	amount = DatumGetNumeric(SPI_getbinval(earlier->tuple, earlier->tupdesc,
										   LEDGER_COL_AMOUNT, &isnull));

	same_course = VARSIZE_ANY_EXHDR(course_id) == VARSIZE_ANY_EXHDR(request->course_id) &&
		memcmp(VARDATA_ANY(course_id), VARDATA_ANY(request->course_id),
			   VARSIZE_ANY_EXHDR(course_id)) == 0;
	if (request->amount != NULL)
		same_amount = DatumGetInt32(DirectFunctionCall2(numeric_cmp,
														NumericGetDatum(amount),
														NumericGetDatum(request->amount))) == 0;
	else
	{
		/*
		 * pay_remaining_balance() without an expected amount: the earlier
		 * call must have paid the balance in full, as this one would.
		 */
		Numeric		due_after;

		due_after = DatumGetNumeric(SPI_getbinval(earlier->tuple, earlier->tupdesc,
												  LEDGER_COL_AMOUNT_DUE_AFTER,
												  &isnull));
		same_amount = DatumGetInt32(DirectFunctionCall2(numeric_cmp,
														NumericGetDatum(due_after),
														NumericGetDatum(int64_to_numeric(0)))) == 0;
	}

	if (!same_course || !same_amount)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_KEY_REUSED),
				 errmsg("idempotency key was already used with different parameters"),
				 errdetail("Key \"%s\" of user \"%s\" was used for a payment of %s in course \"%s\".",
						   text_to_cstring(request->idempotency_key),
						   text_to_cstring(request->user_id),
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(amount))),
						   text_to_cstring(course_id)),
				 errhint("Use a new key for a new payment; reuse a key only to retry the same call.")));
}

/*
 * The amount, in minor units, that a request pays on a locked enrollment.
 * Raise an error if the request does not fit the enrollment.
 */
static int64
AmountToPay(const PaymentRequest *request, const LockedEnrollment *enrollment)
{
	int64		amount;

	CheckStatusAcceptsPayment(enrollment->status, request->user_id,
							  request->course_id);

	if (request->pay_remaining)
	{
		amount = enrollment->amount_due;
		if (request->amount != NULL &&
			AmountToMinorUnits(request->amount, &enrollment->currency,
							   request->amount_argname) != amount)
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_EXPECTED_AMOUNT_MISMATCH),
					 errmsg("expected amount does not match the amount due"),
					 errdetail("The amount due is %s; the expected amount was %s %s.",
							   FormatMoney(amount, &enrollment->currency),
							   DatumGetCString(DirectFunctionCall1(numeric_out,
																   NumericGetDatum(request->amount))),
							   enrollment->currency.code)));
		return amount;
	}

	amount = AmountToMinorUnits(request->amount, &enrollment->currency,
								request->amount_argname);
	if (amount > enrollment->amount_due)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_OVERPAYMENT),
				 errmsg("payment exceeds the amount due"),
				 errdetail("The amount due is %s; the payment is %s.",
						   FormatMoney(enrollment->amount_due, &enrollment->currency),
						   FormatMoney(amount, &enrollment->currency)),
				 errhint("Use pay_remaining_balance() to pay exactly what is due.")));
	return amount;
}

/*
 * Apply a payment request and return its enrollment.payment_result.
 */
static Datum
ApplyPayment(FunctionCallInfo fcinfo, const PaymentRequest *request)
{
	MemoryContext caller = CurrentMemoryContext;
	LockedEnrollment enrollment;
	LedgerEntry entry;
	NewPayment payment;
	Datum		result;

	if (request->amount != NULL)
		CheckAmount(request->amount, request->amount_argname, false);

	ConnectSPI();

	LockEnrollment(request->user_id, request->course_id, &enrollment);

	if (request->idempotency_key != NULL &&
		LedgerFindKey(request->user_id, request->idempotency_key, &entry))
	{
		CheckReplayMatchesRequest(request, &entry);
	}
	else
	{
		payment.user_id = request->user_id;
		payment.course_id = request->course_id;
		payment.idempotency_key = request->idempotency_key;
		payment.currency = &enrollment.currency;
		payment.amount = AmountToPay(request, &enrollment);
		payment.created_at = GetCurrentTimestamp();

		enrollment.amount_paid += payment.amount;
		enrollment.amount_due -= payment.amount;
		enrollment.status = StatusForAmounts(enrollment.amount_paid,
											 enrollment.amount_due);
		StoreEnrollmentAmounts(request->user_id, request->course_id,
							   &enrollment, payment.created_at);

		payment.amount_paid_after = enrollment.amount_paid;
		payment.amount_due_after = enrollment.amount_due;
		payment.status_after = enrollment.status;
		if (!LedgerAppend(&payment, &entry))
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_KEY_REUSED),
					 errmsg("idempotency key was already used with different parameters"),
					 errdetail("Key \"%s\" of user \"%s\" was used at the same time for a payment in another course.",
							   text_to_cstring(request->idempotency_key),
							   text_to_cstring(request->user_id)),
					 errhint("Use a new key for a new payment; reuse a key only to retry the same call.")));
	}

	result = ResultFromSPIRow(fcinfo, entry.tuple, entry.tupdesc, caller);
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

	PG_RETURN_DATUM(ApplyPayment(fcinfo, &request));
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

	PG_RETURN_DATUM(ApplyPayment(fcinfo, &request));
}
