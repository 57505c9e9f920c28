/*-------------------------------------------------------------------------
 *
 * status.c
 *	  The status of an enrollment and the transitions it allows.
 *
 * While an enrollment is open, its status follows from the amounts:
 * pending (nothing paid, something due), partial (something paid,
 * something due), paid (nothing due).  Two statuses end it: cancelled
 * (cancel_enrollment(); refunds may follow, and it stays cancelled) and
 * refunded (a refund took back everything paid).
 *
 *	event			allowed from				status after
 *	payment			pending, partial			from the amounts
 *	refund			partial, paid, cancelled	cancelled stays; refunded when
 *												nothing stays paid; else partial
 *	cancel			pending, partial, paid		cancelled
 *	price change	pending, partial, paid		from the amounts
 *
 * Anything else is refused with the SQLSTATE of the status that refuses
 * it.  The table's CHECK constraint states the same rules for the amounts.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "utils/builtins.h"

/* labels of enrollment.payment_status, indexed by EnrollmentStatus */
static const char *const StatusLabels[] = {
	[ENROLLMENT_PENDING] = "pending",
	[ENROLLMENT_PARTIAL] = "partial",
	[ENROLLMENT_PAID] = "paid",
	[ENROLLMENT_CANCELLED] = "cancelled",
	[ENROLLMENT_REFUNDED] = "refunded",
};

/* labels of enrollment.event_kind, indexed by EventKind */
static const char *const EventKindLabels[] = {
	[EVENT_PAYMENT] = "payment",
	[EVENT_REFUND] = "refund",
	[EVENT_CANCEL] = "cancel",
	[EVENT_PRICE_CHANGE] = "price_change",
	[EVENT_IMPORT] = "import",
};

/*
 * The status that the given amounts (in minor units) imply for an open
 * enrollment.
 */
EnrollmentStatus
StatusForAmounts(int64 amount_paid, int64 amount_due)
{
	if (amount_due == 0)
		return ENROLLMENT_PAID;
	if (amount_paid == 0)
		return ENROLLMENT_PENDING;
	return ENROLLMENT_PARTIAL;
}

/*
 * The status after an event that CheckStatusAllowsEvent() let through,
 * given the amounts it left.
 */
EnrollmentStatus
StatusAfterEvent(EventKind kind, EnrollmentStatus before,
				 int64 amount_paid, int64 amount_due)
{
	switch (kind)
	{
		case EVENT_CANCEL:
			return ENROLLMENT_CANCELLED;
		case EVENT_REFUND:
			if (before == ENROLLMENT_CANCELLED)
				return ENROLLMENT_CANCELLED;
			if (amount_paid == 0)
				return ENROLLMENT_REFUNDED;
			break;
		case EVENT_PAYMENT:
		case EVENT_PRICE_CHANGE:
		case EVENT_IMPORT:
			break;
	}
	return StatusForAmounts(amount_paid, amount_due);
}

const char *
StatusLabel(EnrollmentStatus status)
{
	return StatusLabels[status];
}

const char *
EventKindLabel(EventKind kind)
{
	return EventKindLabels[kind];
}

/*
 * The index in values of the enum value stored in a row; XX001 if it is
 * none of them.
 */
int
EnumIndex(const EnumValues *values, Datum value, bool isnull, const char *what)
{
	for (int i = 0; i < values->count && !isnull; i++)
	{
		if (OidIsValid(values->oids[i]) &&
			values->oids[i] == DatumGetObjectId(value))
			return i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("%s", what),
			 isnull ? 0 : errdetail("The enum value is %u.", DatumGetObjectId(value))));
	pg_unreachable();
}

/*
 * The pg_enum OID of label, values->oids[index], to be stored in a row.  A
 * database still on version 1.0 of the extension lacks some labels.  A
 * label that ALTER TYPE ... ADD VALUE added in this transaction (ALTER
 * EXTENSION enrollment UPDATE) may not be stored before it commits, as for
 * SQL: enum_in makes the same check and raises the same error (55P04).
 */
Oid
EnumValueOf(const EnumValues *values, int index, const char *label)
{
	if (!OidIsValid(values->oids[index]))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("\"%s\" needs version 1.1 of the enrollment extension", label),
				 errhint("Run ALTER EXTENSION enrollment UPDATE.")));
	if (unlikely(values->uncommitted & (((uint32) 1) << index)))
		(void) DirectFunctionCall2(enum_in, CStringGetDatum(label),
								   ObjectIdGetDatum(values->type));
	return values->oids[index];
}

/*
 * May an enrollment with this status take the event?
 */
bool
StatusAllowsEvent(EventKind kind, EnrollmentStatus status)
{
	switch (status)
	{
		case ENROLLMENT_PENDING:
			return kind != EVENT_REFUND;
		case ENROLLMENT_PARTIAL:
			return true;
		case ENROLLMENT_PAID:
			return kind != EVENT_PAYMENT;
		case ENROLLMENT_CANCELLED:
			return kind == EVENT_REFUND;
		case ENROLLMENT_REFUNDED:
			return false;
	}
	return false;
}

/*
 * Raise an error unless an enrollment with this status may take the event.
 */
void
CheckStatusAllowsEvent(EventKind kind, EnrollmentStatus status,
					   text *user_id, text *course_id)
{
	if (StatusAllowsEvent(kind, status))
		return;
	switch (status)
	{
		case ENROLLMENT_PENDING:
			if (kind == EVENT_REFUND)
				ereport(ERROR,
						(errcode(ERRCODE_ENROLLMENT_NOTHING_PAID),
						 errmsg("enrollment has no payment to refund"),
						 errdetail("User \"%s\" has paid nothing for course \"%s\".",
								   text_to_cstring(user_id),
								   text_to_cstring(course_id))));
			break;
		case ENROLLMENT_PARTIAL:
			break;
		case ENROLLMENT_PAID:
			if (kind == EVENT_PAYMENT)
				ereport(ERROR,
						(errcode(ERRCODE_ENROLLMENT_ALREADY_PAID),
						 errmsg("enrollment is already paid"),
						 errdetail("User \"%s\" has paid course \"%s\" in full.",
								   text_to_cstring(user_id),
								   text_to_cstring(course_id))));
			break;
		case ENROLLMENT_CANCELLED:
			if (kind != EVENT_REFUND)
				ereport(ERROR,
						(errcode(ERRCODE_ENROLLMENT_CANCELLED),
						 errmsg("enrollment is cancelled"),
						 errdetail("The enrollment of user \"%s\" in course \"%s\" was cancelled; only refunds are allowed.",
								   text_to_cstring(user_id),
								   text_to_cstring(course_id))));
			break;
		case ENROLLMENT_REFUNDED:
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_REFUNDED),
					 errmsg("enrollment is refunded"),
					 errdetail("Everything user \"%s\" paid for course \"%s\" was refunded.",
							   text_to_cstring(user_id),
							   text_to_cstring(course_id))));
			break;
	}
}
