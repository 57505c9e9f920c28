/*-------------------------------------------------------------------------
 *
 * locking.c
 *	  Locking the enrollment row a payment changes, and writing it back.
 *
 * Every change to an enrollment starts by locking its row FOR NO KEY
 * UPDATE: concurrent payments to one enrollment queue here, one at a time,
 * and each sees the amounts the previous one committed.  That strength
 * still lets the ledger's foreign-key checks (FOR KEY SHARE) through.
 * Waiting obeys the session's lock_timeout (55P03).  Under READ COMMITTED
 * the lock follows the row to its newest version; under REPEATABLE READ or
 * SERIALIZABLE a row changed since the snapshot raises 40001.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/*
 * Lock the enrollment (user_id, course_id) and read its amounts into
 * *enrollment; raise 23E02 if it does not exist.  Needs an SPI connection.
 */
void
LockEnrollment(text *user_id, text *course_id, LockedEnrollment *enrollment)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	HeapTuple	row;
	TupleDesc	tupdesc;
	bool		isnull;

	SavedPlan(&plan,
			  "SELECT e.price, e.amount_paid, e.amount_due,"
			  "       e.status::pg_catalog.text, c.code, c.minor_unit"
			  "  FROM enrollment.enrollments e"
			  "  JOIN enrollment.currencies c"
			  "    ON c.code OPERATOR(pg_catalog.=) e.currency"
			  " WHERE e.user_id OPERATOR(pg_catalog.=) $1"
			  "   AND e.course_id OPERATOR(pg_catalog.=) $2"
			  "   FOR NO KEY UPDATE OF e",
			  2, argtypes);

	values[0] = PointerGetDatum(user_id);
	values[1] = PointerGetDatum(course_id);
	if (ExecuteSavedPlan(plan, values, NULL, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_NOT_FOUND),
				 errmsg("enrollment does not exist"),
				 errdetail("User \"%s\" is not enrolled in course \"%s\".",
						   text_to_cstring(user_id),
						   text_to_cstring(course_id)),
				 errhint("Create it with enrollment.enroll().")));

	row = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;

	InitCurrency(&enrollment->currency,
				 TextDatumGetCString(SPI_getbinval(row, tupdesc, 5, &isnull)),
				 DatumGetInt16(SPI_getbinval(row, tupdesc, 6, &isnull)));

	enrollment->price =
		StoredAmountToMinorUnits(DatumGetNumeric(SPI_getbinval(row, tupdesc, 1, &isnull)),
								 &enrollment->currency, "price");
	enrollment->amount_paid =
		StoredAmountToMinorUnits(DatumGetNumeric(SPI_getbinval(row, tupdesc, 2, &isnull)),
								 &enrollment->currency, "amount_paid");
	enrollment->amount_due =
		StoredAmountToMinorUnits(DatumGetNumeric(SPI_getbinval(row, tupdesc, 3, &isnull)),
								 &enrollment->currency, "amount_due");
	enrollment->status =
		StatusFromLabel(TextDatumGetCString(SPI_getbinval(row, tupdesc, 4, &isnull)));

	SPI_freetuptable(SPI_tuptable);
}

/*
 * Write the amounts and status of an enrollment locked by LockEnrollment.
 * paid_at is set when the enrollment becomes paid.  Needs an SPI
 * connection.
 */
void
StoreEnrollmentAmounts(text *user_id, text *course_id,
					   const LockedEnrollment *enrollment,
					   TimestampTz updated_at)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[7] = {TEXTOID, TEXTOID, NUMERICOID, NUMERICOID,
	TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = "       ";

	SavedPlan(&plan,
			  "UPDATE enrollment.enrollments"
			  "   SET amount_paid = $3, amount_due = $4,"
			  "       status = CAST($5 AS enrollment.payment_status),"
			  "       updated_at = $6, paid_at = $7"
			  " WHERE user_id OPERATOR(pg_catalog.=) $1"
			  "   AND course_id OPERATOR(pg_catalog.=) $2",
			  7, argtypes);

	values[0] = PointerGetDatum(user_id);
	values[1] = PointerGetDatum(course_id);
	values[2] = NumericGetDatum(MinorUnitsToNumeric(enrollment->amount_paid,
													&enrollment->currency));
	values[3] = NumericGetDatum(MinorUnitsToNumeric(enrollment->amount_due,
													&enrollment->currency));
	values[4] = CStringGetTextDatum(StatusLabel(enrollment->status));
	values[5] = TimestampTzGetDatum(updated_at);
	if (enrollment->status == ENROLLMENT_PAID)
		values[6] = TimestampTzGetDatum(updated_at);
	else
		nulls[6] = 'n';

	if (ExecuteSavedPlan(plan, values, nulls, SPI_OK_UPDATE) != 1)
		elog(ERROR, "locked enrollment row was not updated");
}
