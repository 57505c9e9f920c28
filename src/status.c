/*-------------------------------------------------------------------------
 *
 * status.c
 *	  The payment status of an enrollment and the transitions it allows.
 *
 * The status is derived from the amounts, never set on its own:
 * pending (nothing paid, something due), partial (something paid, something
 * due), paid (nothing due).  The table's CHECK constraint states the same
 * rule, so the two cannot drift apart.
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
};

/*
 * The status that the given amounts (in minor units) imply.
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

const char *
StatusLabel(EnrollmentStatus status)
{
	return StatusLabels[status];
}

/*
 * The status stored as the enum value (a pg_enum OID) in the table, given
 * the OIDs of the labels in EnrollmentStatus order.
 */
EnrollmentStatus
StatusFromEnumValue(const Oid *status_values, Oid value)
{
	for (int i = 0; i < NUM_ENROLLMENT_STATUSES; i++)
	{
		if (status_values[i] == value)
			return (EnrollmentStatus) i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("enrollment has an unknown status (enum value %u)", value)));
	pg_unreachable();
}

/*
 * Raise an error unless an enrollment with this status may take a payment.
 */
void
CheckStatusAcceptsPayment(EnrollmentStatus status, text *user_id,
						  text *course_id)
{
	if (status == ENROLLMENT_PAID)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_ALREADY_PAID),
				 errmsg("enrollment is already paid"),
				 errdetail("User \"%s\" has paid course \"%s\" in full.",
						   text_to_cstring(user_id),
						   text_to_cstring(course_id))));
}
