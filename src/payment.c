/*-------------------------------------------------------------------------
 *
 * payment.c
 *	  One event (a payment, a refund, a cancellation, a price change, an
 *	  import), step by step, under the enrollment's row lock.
 *
 * Lock the enrollment; if the idempotency key was used before, replay that
 * event (or refuse a different one); else check that the status allows
 * the event and that its amount fits, append to the ledger, update the
 * enrollment and queue the notification.  Any error undoes all of it,
 * because it aborts the caller's (sub)transaction.  A run of payments to
 * one enrollment (a batch's) is applied under one lock with one update of
 * the enrollment; a single event is a run of one.
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
	if (earlier->kind == EVENT_REFUND)	/* stored as a negative change */
		amount = DatumGetNumeric(DirectFunctionCall1(numeric_uminus,
													 NumericGetDatum(amount)));

	same_course = VARSIZE_ANY_EXHDR(course_id) == VARSIZE_ANY_EXHDR(request->course_id) &&
		memcmp(VARDATA_ANY(course_id), VARDATA_ANY(request->course_id),
			   VARSIZE_ANY_EXHDR(course_id)) == 0;
	same_amount = request->amount == NULL ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp,
										  NumericGetDatum(amount),
										  NumericGetDatum(request->amount))) == 0;
	if (request->pay_remaining)
	{
		/*
		 * pay_remaining_balance(): the earlier call must have paid the
		 * balance in full, as this one would, and its amount must be the
		 * expected amount, if one is given.
		 */
		Numeric		due_after;

		due_after = DatumGetNumeric(earlier->values[RESULT_AMOUNT_DUE]);
		same_amount = same_amount &&
			DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											  NumericGetDatum(due_after),
											  NumericGetDatum(int64_to_numeric(0)))) == 0;
	}

	if (!same_course || !same_amount || earlier->kind != request->kind)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_KEY_REUSED),
				 errmsg("idempotency key was already used with different parameters"),
				 errdetail("Key \"%s\" of user \"%s\" was used for a %s of %s in course \"%s\".",
						   text_to_cstring(request->idempotency_key),
						   text_to_cstring(request->user_id),
						   EventKindLabel(earlier->kind),
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(amount))),
						   text_to_cstring(course_id)),
				 errhint("Use a new key for a new payment; reuse a key only to retry the same call.")));
}

/*
 * The change, in minor units, that a request makes to the amount paid of a
 * locked enrollment whose status allows it; a price change sets the new
 * price and amount due in *enrollment.  Raise an error if the request does
 * not fit the enrollment's amounts.
 */
static int64
ChangeToAmountPaid(const PaymentRequest *request, LockedEnrollment *enrollment)
{
	const Currency *currency = &enrollment->currency;
	int64		amount;

	if (request->kind == EVENT_CANCEL)
		return 0;

	if (request->kind == EVENT_REFUND)
	{
		amount = AmountToMinorUnits(request->amount, currency,
									request->amount_argname);
		if (amount > enrollment->amount_paid)
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_REFUND_EXCEEDS_PAID),
					 errmsg("refund exceeds the amount paid"),
					 errdetail("The amount paid is %s; the refund is %s.",
							   FormatMoney(enrollment->amount_paid, currency),
							   FormatMoney(amount, currency))));
		return -amount;
	}

	if (request->kind == EVENT_PRICE_CHANGE)
	{
		int64		price = AmountToMinorUnits(request->amount, currency,
											   request->amount_argname);

		if (price < enrollment->amount_paid)
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_PRICE_BELOW_PAID),
					 errmsg("new price is less than the amount paid"),
					 errdetail("The amount paid is %s; the new price is %s.",
							   FormatMoney(enrollment->amount_paid, currency),
							   FormatMoney(price, currency)),
					 errhint("Refund the difference first.")));
		enrollment->price = price;
		enrollment->amount_due = price - enrollment->amount_paid;
		enrollment->price_changed = true;
		return 0;
	}

	if (request->kind == EVENT_IMPORT)
	{
		amount = AmountToMinorUnits(request->amount, currency,
									request->amount_argname);
		if (amount > enrollment->amount_due)
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_OVERPAYMENT),
					 errmsg("amount_paid exceeds the price"),
					 errdetail("The price is %s; amount_paid is %s.",
							   FormatMoney(enrollment->price, currency),
							   FormatMoney(amount, currency))));
		return amount;
	}

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
 * Would ChangeToAmountPaid() and the status accept the request as a new
 * event?  Raises nothing.
 */
static bool
RequestFits(const PaymentRequest *request, const LockedEnrollment *enrollment)
{
	int64		amount;

	if (!StatusAllowsEvent(request->kind, enrollment->status))
		return false;
	if (request->amount == NULL)
		return true;			/* pay_remaining_balance() without expectation */
	if (!AmountFitsCurrency(request->amount, &enrollment->currency))
		return false;
	amount = AmountToMinorUnits(request->amount, &enrollment->currency,
								request->amount_argname);
	switch (request->kind)
	{
		case EVENT_PAYMENT:
			return request->pay_remaining ? amount == enrollment->amount_due :
				amount <= enrollment->amount_due;
		case EVENT_REFUND:
			return amount <= enrollment->amount_paid;
		case EVENT_PRICE_CHANGE:
			return amount >= enrollment->amount_paid;
		case EVENT_IMPORT:
			return amount <= enrollment->amount_due;
		case EVENT_CANCEL:
			break;
	}
	return true;
}

/*
 * Answer a request with the earlier event of its idempotency key, *entry,
 * or raise 23E04 if that event was not the same request.
 */
static void
Replay(const PaymentRequest *request, const LedgerEntry *entry)
{
	CheckReplayMatchesRequest(request, entry);

	/*
	 * The earlier payment may have committed on this server without
	 * reaching a synchronous standby: its wait for replication can be
	 * cancelled.  The caller hears of the replay only once the payment is
	 * replicated all the same, because a commit waits for the standby
	 * whenever its transaction has a transaction ID and has written WAL
	 * (RecordTransactionCommit()), and locking the enrollment's row, which
	 * comes first, gave this one both, after that payment's commit record.
	 * test/fault/failover.sh checks it.
	 */
}

/*
 * Check what can be checked of a request before any row is locked.  A new
 * price and an imported amount paid may be zero.
 */
void
CheckPaymentRequest(const PaymentRequest *request)
{
	if (request->amount != NULL)
		CheckAmount(request->amount, request->amount_argname,
					request->kind == EVENT_PRICE_CHANGE ||
					request->kind == EVENT_IMPORT);
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
	enrollment->price_changed = false;
	enrollment->first_payment = true;
}

/*
 * Apply a checked request to the enrollment locked by
 * BeginEnrollmentRun(): replay an earlier event with the same idempotency
 * key, or validate, append to the ledger and queue the notification.  The
 * amounts are kept in *enrollment, written back by EndEnrollmentRun().
 * *entry receives the ledger row, new or replayed, as the columns of an
 * enrollment.payment_result.
 */
void
ApplyPaymentToLocked(PaymentTables *tables, LockedEnrollment *enrollment,
					 const PaymentRequest *request, LedgerEntry *entry)
{
	NewPayment	payment;
	EnrollmentStatus previous_status = enrollment->status;
	LockedEnrollment before;

	/* see the ledger rows of the payments before this one in the run */
	if (!enrollment->first_payment)
		NextPaymentCommand(tables);
	enrollment->first_payment = false;
	before = *enrollment;

	/*
	 * A request with an idempotency key may retry an earlier call.  If it
	 * fits the enrollment as a new event, it is simply inserted below: the
	 * ledger's unique index finds an earlier call with the key on the way.
	 * Else the earlier call is looked for first, so that a retry is
	 * answered even where a new event would be refused (the enrollment is
	 * paid by now, say).
	 */
	if (request->idempotency_key != NULL && !RequestFits(request, enrollment) &&
		LedgerFindKey(tables, request->user_id, request->idempotency_key, entry))
	{
		Replay(request, entry);
		return;
	}

	CheckStatusAllowsEvent(request->kind, enrollment->status,
						   request->user_id, request->course_id);

	payment.kind = request->kind;
	payment.user_id = request->user_id;
	payment.course_id = request->course_id;
	payment.idempotency_key = request->idempotency_key;
	payment.reason = request->reason;
	payment.currency = &enrollment->currency;
	payment.amount = ChangeToAmountPaid(request, enrollment);
	payment.created_at = GetCurrentTimestamp();

	enrollment->amount_paid += payment.amount;
	enrollment->amount_due -= payment.amount;
	enrollment->status = StatusAfterEvent(request->kind, previous_status,
										  enrollment->amount_paid,
										  enrollment->amount_due);
	enrollment->updated_at = payment.created_at;
	enrollment->changed = true;

	payment.amount_paid_after = enrollment->amount_paid;
	payment.amount_due_after = enrollment->amount_due;
	payment.status_after = enrollment->status;
	if (!LedgerAppend(tables, &payment, entry))
	{
		/* the key is taken: the event is not new after all */
		*enrollment = before;
		Replay(request, entry);
		return;
	}

	SendEvent(tables, &payment, previous_status, entry);
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
