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
 * SERIALIZABLE a row changed since the snapshot raises 40001, as SELECT
 * ... FOR NO KEY UPDATE does.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/tableam.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

static bool
TextEquals(Datum a, text *b)
{
	text	   *at = DatumGetTextPP(a);

	return VARSIZE_ANY_EXHDR(at) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(at), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)) == 0;
}

static Datum
Column(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, attnum, &isnull);

	if (isnull)
		elog(ERROR, "column %d of \"%s\" is null", attnum,
			 get_rel_name(slot->tts_tableOid));
	return value;
}

/*
 * Read the currency of the locked enrollment.
 */
static void
ReadCurrency(PaymentTables *tables, Datum code, Currency *currency)
{
	if (!FindRowByTextKey(tables->currencies, tables->currencies_pkey,
						  GetActiveSnapshot(), 1, &code, tables->currency_slot))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("enrollment has unknown currency \"%s\"",
						TextDatumGetCString(code))));
	InitCurrency(currency, TextDatumGetCString(code),
				 DatumGetInt16(Column(tables->currency_slot,
									  tables->catalog.currency_minor_unit)));
}

/*
 * Lock the enrollment (user_id, course_id), keep it in
 * tables->enrollment_slot and read its amounts into *enrollment; raise
 * 23E02 if it does not exist.  Call it inside a payment step; the step's
 * snapshot afterwards sees what the transactions it waited for committed.
 */
void
LockEnrollment(PaymentTables *tables, text *user_id, text *course_id,
			   LockedEnrollment *enrollment)
{
	Relation	rel = tables->enrollments->ri_RelationDesc;
	TupleTableSlot *slot = tables->enrollment_slot;
	const EnrollmentCatalog *catalog = &tables->catalog;
	Datum		key[2] = {PointerGetDatum(user_id), PointerGetDatum(course_id)};

	for (;;)
	{
		TM_FailureData tmfd;
		TM_Result	result;

		CHECK_FOR_INTERRUPTS();
		if (!FindRowByTextKey(rel, tables->enrollments_pkey, GetActiveSnapshot(),
							  2, key, slot))
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_NOT_FOUND),
					 errmsg("enrollment does not exist"),
					 errdetail("User \"%s\" is not enrolled in course \"%s\".",
							   text_to_cstring(user_id),
							   text_to_cstring(course_id)),
					 errhint("Create it with enrollment.enroll().")));

		result = table_tuple_lock(rel, &slot->tts_tid, GetActiveSnapshot(), slot,
								  tables->estate->es_output_cid,
								  LockTupleNoKeyExclusive, LockWaitBlock,
								  IsolationUsesXactSnapshot() ? 0 :
								  TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
								  &tmfd);
		if (result == TM_Ok)
		{
			/* the newest version must still be this enrollment's */
			if (!tmfd.traversed ||
				(TextEquals(Column(slot, catalog->enrollment.user_id), user_id) &&
				 TextEquals(Column(slot, catalog->enrollment.course_id), course_id)))
				break;
		}
		else if (result == TM_Updated || result == TM_Deleted)
		{
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent %s",
								result == TM_Updated ? "update" : "delete")));
		}
		else
			elog(ERROR, "unexpected result %d locking an enrollment", (int) result);

		/* READ COMMITTED, and the row moved away: look it up again */
		RefreshPaymentSnapshot(tables);
	}
	RefreshPaymentSnapshot(tables);

	ReadCurrency(tables, Column(slot, catalog->enrollment.currency),
				 &enrollment->currency);
	enrollment->price =
		StoredAmountToMinorUnits(DatumGetNumeric(Column(slot, catalog->enrollment.price)),
								 &enrollment->currency, "price");
	enrollment->amount_paid =
		StoredAmountToMinorUnits(DatumGetNumeric(Column(slot, catalog->enrollment.amount_paid)),
								 &enrollment->currency, "amount_paid");
	enrollment->amount_due =
		StoredAmountToMinorUnits(DatumGetNumeric(Column(slot, catalog->enrollment.amount_due)),
								 &enrollment->currency, "amount_due");
	enrollment->status = (EnrollmentStatus)
		EnumIndex(&catalog->status_values,
				  Column(slot, catalog->enrollment.status), false,
				  "enrollment has an unknown status");
}

/*
 * Write the price, amounts and status of the enrollment locked by
 * LockEnrollment.  paid_at is set when the enrollment becomes paid, kept
 * while it stays paid, cleared otherwise.
 */
void
StoreEnrollmentAmounts(PaymentTables *tables,
					   const LockedEnrollment *enrollment,
					   TimestampTz updated_at)
{
	TupleTableSlot *old = tables->enrollment_slot;
	TupleTableSlot *new = tables->new_enrollment_slot;
	const EnrollmentCatalog *catalog = &tables->catalog;
	int			natts = old->tts_tupleDescriptor->natts;

	slot_getallattrs(old);
	ExecClearTuple(new);
	memcpy(new->tts_values, old->tts_values, natts * sizeof(Datum));
	memcpy(new->tts_isnull, old->tts_isnull, natts * sizeof(bool));

#define SET_COLUMN(attnum, value) \
	(new->tts_values[(attnum) - 1] = (value), new->tts_isnull[(attnum) - 1] = false)

	if (enrollment->price_changed)
		SET_COLUMN(catalog->enrollment.price,
				   NumericGetDatum(MinorUnitsToNumeric(enrollment->price,
													   &enrollment->currency)));
	SET_COLUMN(catalog->enrollment.amount_paid,
			   NumericGetDatum(MinorUnitsToNumeric(enrollment->amount_paid,
												   &enrollment->currency)));
	SET_COLUMN(catalog->enrollment.amount_due,
			   NumericGetDatum(MinorUnitsToNumeric(enrollment->amount_due,
												   &enrollment->currency)));
	SET_COLUMN(catalog->enrollment.status,
			   ObjectIdGetDatum(EnumValueOf(&catalog->status_values,
											enrollment->status,
											StatusLabel(enrollment->status))));
	SET_COLUMN(catalog->enrollment.updated_at, TimestampTzGetDatum(updated_at));
	if (enrollment->status != ENROLLMENT_PAID)
		new->tts_isnull[catalog->enrollment.paid_at - 1] = true;
	else if (new->tts_isnull[catalog->enrollment.paid_at - 1])
		SET_COLUMN(catalog->enrollment.paid_at, TimestampTzGetDatum(updated_at));
#undef SET_COLUMN

	ExecStoreVirtualTuple(new);
	ItemPointerSetInvalid(&new->tts_tid);	/* set by the update */
	ExecSimpleRelationUpdate(tables->enrollments, tables->estate,
							 &tables->epqstate, old, new);
	if (!ItemPointerIsValid(&new->tts_tid))
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("a trigger on enrollment.enrollments skipped the update of an enrollment"),
				 errdetail("A BEFORE UPDATE trigger returned NULL for user \"%s\", course \"%s\".",
						   TextDatumGetCString(Column(old, catalog->enrollment.user_id)),
						   TextDatumGetCString(Column(old, catalog->enrollment.course_id)))));
}
