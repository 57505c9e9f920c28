/*-------------------------------------------------------------------------
 *
 * payment.c
 *	  One payment, step by step, under the enrollment's row lock.
 *
 * Lock the enrollment; if the idempotency key was used before, replay that
 * payment (or refuse a different one); else check the status, the amount
 * and the expected amount, append to the ledger and update the enrollment.
 * Any error undoes all of it, because it aborts the caller's
 * (sub)transaction.  A run of payments to one enrollment (a batch's) is
 * applied under one lock with one update of the enrollment; a single
 * payment is a run of one.
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
 * Lock the enrollment that a run of payments pays, in a new payment step.
 */
void
BeginEnrollmentRun(PaymentTables *tables, text *user_id, text *course_id,
				   LockedEnrollment *enrollment)
{
	BeginPaymentStep(tables);
	LockEnrollment(tables, user_id, course_id, enrollment);
	enrollment->changed = false;
	enrollment->first_payment = true;
}

/*
 * Apply a checked payment request to the enrollment locked by
 * BeginEnrollmentRun(): replay an earlier payment with the same
 * idempotency key, or validate and append to the ledger.  The amounts are
 * kept in *enrollment, written back by EndEnrollmentRun().  *entry
 * receives the ledger row, new or replayed, as the columns of an
 * enrollment.payment_result.
 */
void
ApplyPaymentToLocked(PaymentTables *tables, LockedEnrollment *enrollment,
					 const PaymentRequest *request, LedgerEntry *entry)
{
	NewPayment	payment;

	/* see the ledger rows of the payments before this one in the run */
	if (!enrollment->first_payment)
		NextPaymentCommand(tables);
	enrollment->first_payment = false;

	if (request->idempotency_key != NULL &&
		LedgerFindKey(tables, request->user_id, request->idempotency_key, entry))
	{
		CheckReplayMatchesRequest(request, entry);

		/*
		 * The earlier payment may have committed on this server without
		 * reaching a synchronous standby: its wait for replication can be
		 * cancelled.  A transaction ID makes this transaction's commit
		 * write WAL after that payment's commit record and wait for the
		 * standby in turn, so the caller hears of the replay only once the
		 * payment is replicated.  The row lock has taken one already; do
		 * not depend on that.
		 */
		(void) GetCurrentTransactionId();
		return;
	}

	payment.user_id = request->user_id;
	payment.course_id = request->course_id;
	payment.idempotency_key = request->idempotency_key;
	payment.currency = &enrollment->currency;
	payment.amount = AmountToPay(request, enrollment);
	payment.created_at = GetCurrentTimestamp();

	enrollment->amount_paid += payment.amount;
	enrollment->amount_due -= payment.amount;
	enrollment->status = StatusForAmounts(enrollment->amount_paid,
										  enrollment->amount_due);
	enrollment->updated_at = payment.created_at;
	enrollment->changed = true;

	payment.amount_paid_after = enrollment->amount_paid;
	payment.amount_due_after = enrollment->amount_due;
	payment.status_after = enrollment->status;
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
 * Write the enrollment's amounts back, once for the whole run, and end the
 * payment step.
 */
void
EndEnrollmentRun(PaymentTables *tables, LockedEnrollment *enrollment)
{
	if (enrollment->changed)
		StoreEnrollmentAmounts(tables, enrollment, enrollment->updated_at);
	EndPaymentStep(tables);
}

/*
 * Apply one checked payment request.
 */
void
ApplyPaymentRequest(PaymentTables *tables, const PaymentRequest *request,
					LedgerEntry *entry)
{
	LockedEnrollment enrollment;

	BeginEnrollmentRun(tables, request->user_id, request->course_id,
					   &enrollment);
	ApplyPaymentToLocked(tables, &enrollment, request, entry);
	EndEnrollmentRun(tables, &enrollment);
}
