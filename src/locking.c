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
 * ... FOR NO KEY UPDATE does; through SQL (relations.c), it is that
 * SELECT, and the write-back an UPDATE.  Under Citus, the SELECT first
 * locks the metadata of the user's shard, so that no shard move completes
 * while a call holds a row lock.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/htup_details.h"
#include "access/tableam.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/lockdefs.h"
#include "catalog/pg_type.h"
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

pg_noreturn static void ReportNullColumn(const char *column, const char *relation);

/*
 * A NULL where the table's NOT NULL constraints, dropped behind the
 * extension's back, would have kept a value: an internal error.
 */
static void
ReportNullColumn(const char *column, const char *relation)
{
	elog(ERROR, "column \"%s\" of relation \"%s\" is null", column, relation);
}

static Datum
Column(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, attnum, &isnull);

	if (isnull)
		ReportNullColumn(get_attname(slot->tts_tableOid, attnum, false),
						 get_rel_name(slot->tts_tableOid));
	return value;
}

pg_noreturn static void ReportEnrollmentNotFound(text *user_id, text *course_id);
pg_noreturn static void ReportUnknownCurrency(Datum code);
pg_noreturn static void ReportSkippedUpdate(const LockedEnrollment *enrollment);

static void
ReportEnrollmentNotFound(text *user_id, text *course_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_ENROLLMENT_NOT_FOUND),
			 errmsg("enrollment does not exist"),
			 errdetail("User \"%s\" is not enrolled in course \"%s\".",
					   text_to_cstring(user_id), text_to_cstring(course_id)),
			 errhint("Create it with enrollment.enroll().")));
}

static void
ReportUnknownCurrency(Datum code)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("enrollment has unknown currency \"%s\"",
					TextDatumGetCString(code))));
}

static void
ReportSkippedUpdate(const LockedEnrollment *enrollment)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("a trigger on enrollment.enrollments skipped the update of an enrollment"),
			 errdetail("A BEFORE UPDATE trigger returned NULL for user \"%s\", course \"%s\".",
					   text_to_cstring(enrollment->user_id),
					   text_to_cstring(enrollment->course_id))));
}

/*
 * Read the columns of the locked enrollment into *enrollment.
 */
static void
ReadEnrollment(const EnrollmentCatalog *catalog, Datum currency_code,
			   int minor_unit, Datum price, Datum amount_paid,
			   Datum amount_due, Datum status, LockedEnrollment *enrollment)
{
	Currency   *currency = &enrollment->currency;

	InitCurrency(currency, TextDatumGetCString(currency_code), minor_unit);
	enrollment->price = StoredAmountToMinorUnits(DatumGetNumeric(price),
												 currency, "price");
	enrollment->amount_paid = StoredAmountToMinorUnits(DatumGetNumeric(amount_paid),
													   currency, "amount_paid");
	enrollment->amount_due = StoredAmountToMinorUnits(DatumGetNumeric(amount_due),
													  currency, "amount_due");
	enrollment->status = (EnrollmentStatus)
		EnumIndex(&catalog->status_values, status, false,
				  "enrollment has an unknown status");
}

/*
 * The minor unit of a currency, read directly.
 */
static int
CurrencyMinorUnit(PaymentTables *tables, Datum code)
{
	if (!FindRowByTextKey(tables->currencies, tables->currencies_pkey,
						  GetActiveSnapshot(), 1, &code, tables->currency_slot))
		ReportUnknownCurrency(code);
	return DatumGetInt16(Column(tables->currency_slot,
								tables->catalog.currency_minor_unit));
}

/*
 * Under Citus, hold the metadata lock of the user's shard until the end of
 * the transaction, as Citus itself does for an UPDATE but not for a SELECT
 * ... FOR NO KEY UPDATE.  Without it a shard move can finish between the
 * row lock, taken on the old placement, and the UPDATE, which then goes to
 * the new placement, where other calls never waited for that row lock: a
 * lost update.  With it, a move waits for the calls under way, and calls
 * wait for a move's final switch.  Nothing to lock while the table is not
 * distributed.
 */
static void
LockShardOfUser(text *user_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		key[1] = {PointerGetDatum(user_id)};

	SavedPlan(&plan,
			  "SELECT pg_catalog.lock_shard_metadata(" CppAsString2(ShareLock) ","
			  " ARRAY[pg_catalog.get_shard_id_for_distribution_column("
			  "p.logicalrelid, $1)])"
			  " FROM pg_catalog.pg_dist_partition p"
			  " WHERE p.logicalrelid OPERATOR(pg_catalog.=)"
			  " 'enrollment.enrollments'::pg_catalog.regclass"
			  " AND p.partmethod OPERATOR(pg_catalog.=) 'h'",
			  1, argtypes);
	ExecuteSavedPlan(plan, key, NULL, false, SPI_OK_SELECT);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * LockEnrollment() in SQL: SELECT ... FOR NO KEY UPDATE, which waits,
 * follows the row to its newest version and raises 40001 as the direct
 * way does.
 */
static void
LockEnrollmentBySQL(PaymentTables *tables, text *user_id, text *course_id,
					LockedEnrollment *enrollment)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		key[2] = {PointerGetDatum(user_id), PointerGetDatum(course_id)};
	Datum		columns[6];
	bool		nulls[6];

	if (tables->on_citus)
		LockShardOfUser(user_id);
	SavedPlan(&plan,
			  "SELECT e.currency, c.minor_unit, e.price, e.amount_paid,"
			  " e.amount_due, e.status"
			  " FROM enrollment.enrollments e"
			  " LEFT JOIN enrollment.currencies c"
			  " ON c.code OPERATOR(pg_catalog.=) e.currency"
			  " WHERE e.user_id OPERATOR(pg_catalog.=) $1"
			  " AND e.course_id OPERATOR(pg_catalog.=) $2"
			  " FOR NO KEY UPDATE OF e",
			  2, argtypes);
	if (ExecuteSavedPlan(plan, key, NULL, false, SPI_OK_SELECT) == 0)
		ReportEnrollmentNotFound(user_id, course_id);
	heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
					  columns, nulls);
	for (int i = 0; i < (int) lengthof(columns); i++)
	{
		if (nulls[i] && i != 1)
			ReportNullColumn(SPI_fname(SPI_tuptable->tupdesc, i + 1),
							 "enrollments");
	}
	if (nulls[1])				/* the currency is not in currencies */
		ReportUnknownCurrency(columns[0]);
	ReadEnrollment(&tables->catalog, columns[0], DatumGetInt16(columns[1]),
				   columns[2], columns[3], columns[4], columns[5], enrollment);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Lock the enrollment (user_id, course_id), keep it in
 * tables->enrollment_slot (unless by SQL) and read its amounts into
 * *enrollment; raise 23E02 if it does not exist.  Call it inside a payment
 * step; the step's snapshot afterwards sees what the transactions it
 * waited for committed.
 */
void
LockEnrollment(PaymentTables *tables, text *user_id, text *course_id,
			   LockedEnrollment *enrollment)
{
	Relation	rel;
	TupleTableSlot *slot = tables->enrollment_slot;
	const EnrollmentCatalog *catalog = &tables->catalog;
	Datum		key[2] = {PointerGetDatum(user_id), PointerGetDatum(course_id)};
	Datum		currency;

	enrollment->user_id = user_id;
	enrollment->course_id = course_id;
	if (tables->by_sql)
	{
		LockEnrollmentBySQL(tables, user_id, course_id, enrollment);
		return;
	}

	rel = tables->enrollments->ri_RelationDesc;
	for (;;)
	{
		TM_FailureData tmfd;
		TM_Result	result;

		CHECK_FOR_INTERRUPTS();
		if (!FindRowByTextKey(rel, tables->enrollments_pkey, GetActiveSnapshot(),
							  2, key, slot))
			ReportEnrollmentNotFound(user_id, course_id);

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

	currency = Column(slot, catalog->enrollment.currency);
	ReadEnrollment(catalog, currency, CurrencyMinorUnit(tables, currency),
				   Column(slot, catalog->enrollment.price),
				   Column(slot, catalog->enrollment.amount_paid),
				   Column(slot, catalog->enrollment.amount_due),
				   Column(slot, catalog->enrollment.status), enrollment);
}

/*
 * StoreEnrollmentAmounts() in SQL.  The updated row is kept for
 * functions that return it.
 */
static void
StoreEnrollmentAmountsBySQL(PaymentTables *tables,
							const LockedEnrollment *enrollment,
							TimestampTz updated_at)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[7] = {TEXTOID, TEXTOID, NUMERICOID, NUMERICOID,
	NUMERICOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7];
	const Currency *currency = &enrollment->currency;

	memset(nulls, ' ', sizeof(nulls));
	SavedPlan(&plan,
			  "UPDATE enrollment.enrollments"
			  " SET price = COALESCE($3, price), amount_paid = $4,"
			  " amount_due = $5, status = CAST($6 AS enrollment.payment_status),"
			  " updated_at = $7,"
			  " paid_at = CASE WHEN $6 OPERATOR(pg_catalog.=) 'paid'"
			  " THEN COALESCE(paid_at, $7) END"
			  " WHERE user_id OPERATOR(pg_catalog.=) $1"
			  " AND course_id OPERATOR(pg_catalog.=) $2"
			  " RETURNING *",
			  7, argtypes);
	values[0] = PointerGetDatum(enrollment->user_id);
	values[1] = PointerGetDatum(enrollment->course_id);
	if (enrollment->price_changed)
		values[2] = NumericGetDatum(MinorUnitsToNumeric(enrollment->price,
														currency));
	else
		nulls[2] = 'n';
	values[3] = NumericGetDatum(MinorUnitsToNumeric(enrollment->amount_paid,
													currency));
	values[4] = NumericGetDatum(MinorUnitsToNumeric(enrollment->amount_due,
													currency));
	values[5] = CStringGetTextDatum(StatusLabel(enrollment->status));
	values[6] = TimestampTzGetDatum(updated_at);
	if (ExecuteSavedPlan(plan, values, nulls, false,
						 SPI_OK_UPDATE_RETURNING) == 0)
		ReportSkippedUpdate(enrollment);

	tables->updated_row = heap_copytuple(SPI_tuptable->vals[0]);
	if (tables->updated_row_desc == NULL)	/* the same for the whole call */
		tables->updated_row_desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
	SPI_freetuptable(SPI_tuptable);
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
	int			natts;

	if (tables->by_sql)
	{
		StoreEnrollmentAmountsBySQL(tables, enrollment, updated_at);
		return;
	}

	natts = old->tts_tupleDescriptor->natts;
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
		ReportSkippedUpdate(enrollment);
}
