/*-------------------------------------------------------------------------
 *
 * payment.c
 *	  One payment, step by step, under the enrollment's row lock.
 *
 * Lock the enrollment; if the idempotency key was used before, replay that
 * payment (or refuse a different one); else check the status, the amount
 * and the expected amount, update the enrollment and append to the ledger.
 * Any error undoes all of it, because it aborts the caller's
 * (sub)transaction.  apply_payment(), pay_remaining_balance() and
 * apply_payments() all pay through ApplyPaymentRequest().
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

/*
 * Raise 23E04 unless the earlier payment with this request's idempotency
 * key was made for the same course and amount as this request asks for.
 */
static void
CheckReplayMatchesRequest(const PaymentRequest *request,
						  const LedgerEntry *earlier)
{
	text	   *course_id;
	Numeric		amount;
	bool		same_course;
	bool		same_amount;

	course_id = DatumGetTextPP(earlier->values[RESULT_COURSE_ID]);
	amount = DatumGetNumeric(earlier->values[RESULT_AMOUNT]);

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

		due_after = DatumGetNumeric(earlier->values[RESULT_AMOUNT_DUE]);
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
 * Check what can be checked of a request before any row is locked.
 */
void
CheckPaymentRequest(const PaymentRequest *request)
{
	if (request->amount != NULL)
		CheckAmount(request->amount, request->amount_argname, false);
}

/*
 * One payment, inside a payment step.
 */
static void
ApplyPaymentStep(PaymentTables *tables, const PaymentRequest *request,
				 LedgerEntry *entry)
{
	LockedEnrollment enrollment;
	NewPayment	payment;

	LockEnrollment(tables, request->user_id, request->course_id, &enrollment);

	if (request->idempotency_key != NULL &&
		LedgerFindKey(tables, request->user_id, request->idempotency_key, entry))
	{
		CheckReplayMatchesRequest(request, entry);
		return;
	}

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
	StoreEnrollmentAmounts(tables, &enrollment, payment.created_at);

	payment.amount_paid_after = enrollment.amount_paid;
	payment.amount_due_after = enrollment.amount_due;
	payment.status_after = enrollment.status;
	if (!LedgerAppend(tables, &payment, entry))
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_KEY_REUSED),
				 errmsg("idempotency key was already used with different parameters"),
				 errdetail("Key \"%s\" of user \"%s\" was used at the same time for a payment in another course.",
						   text_to_cstring(request->idempotency_key),
						   text_to_cstring(request->user_id)),
				 errhint("Use a new key for a new payment; reuse a key only to retry the same call.")));
}

/*
 * Apply a checked payment request: lock the enrollment, replay an earlier
 * payment with the same idempotency key or validate, update the enrollment
 * and append to the ledger.  *entry receives the ledger row, new or
 * replayed, as the columns of an enrollment.payment_result.
 */
void
ApplyPaymentRequest(PaymentTables *tables, const PaymentRequest *request,
					LedgerEntry *entry)
{
	BeginPaymentStep(tables);
	ApplyPaymentStep(tables, request, entry);
	EndPaymentStep(tables);
}
