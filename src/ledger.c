/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  The append-only payment ledger and idempotency keys.
 *
 * Every event adds one row to enrollment.payments: its kind (from version
 * 1.1: before, every row is a payment), the change it made to the amount
 * paid (positive for payments and imports, negative for refunds, zero for
 * cancellations and price changes), its reason, the amounts and status it
 * left behind, the server's clock and the session user.  An idempotency
 * key is unique per user: a retried call finds the row its first attempt
 * wrote and returns it instead of paying again.
 * The ledger is never updated, deleted or truncated: a statement trigger
 * refuses that, whoever asks (23E05).  Rows are written as relations.c
 * describes: directly, or through SQL (SELECT, and INSERT ... ON CONFLICT
 * DO NOTHING); columns a DBA added get their defaults either way.
 * payment_id comes from the ledger's identity sequence, so one node's ids
 * increase in the order that calls lock an enrollment.  Under Citus each
 * node has its own copy of the sequence, and the rows of one enrollment can
 * come from several nodes (apply_payments() runs on the coordinator, a
 * shard moves): there, a new row whose id would not be above the
 * enrollment's last one takes the first id above it that this node's
 * sequence can issue, and moves the sequence past it.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

/*
 * The payment_result columns that a ledger row gives, in the order of
 * LEDGER_ENTRY_COLUMNS, the ledger's columns that SQL statements return.
 */
static const int result_columns[] = {
	RESULT_PAYMENT_ID, RESULT_USER_ID, RESULT_COURSE_ID, RESULT_AMOUNT,
	RESULT_AMOUNT_PAID, RESULT_AMOUNT_DUE, RESULT_STATUS, RESULT_CREATED_AT
};

#define LEDGER_ENTRY_COLUMNS \
	"payment_id, user_id, course_id, amount, amount_paid_after," \
	" amount_due_after, status_after, created_at"

/*
 * The statements of the SQL path, in two versions: with the columns that
 * version 1.1 added to the ledger, and without.
 */
#define KEY_LOOKUP_SQL(returned) \
	"SELECT " returned " FROM enrollment.payments" \
	" WHERE user_id OPERATOR(pg_catalog.=) $1" \
	" AND idempotency_key OPERATOR(pg_catalog.=) $2"

#define LEDGER_INSERT_SQL(more_columns, overriding, more_values, returned) \
	"INSERT INTO enrollment.payments" \
	" (user_id, course_id, amount, idempotency_key, amount_paid_after," \
	" amount_due_after, status_after, created_at, created_by" more_columns ")" \
	overriding " VALUES ($1, $2, $3, $4, $5, $6," \
	" CAST($7 AS enrollment.payment_status), $8, $9" more_values ")" \
	" ON CONFLICT (user_id, idempotency_key) DO NOTHING" \
	" RETURNING " returned

/* with version 1.1's columns: parameters $10 and $11; a chosen id is $12 */
#define KIND_VALUES ", CAST($10 AS enrollment.event_kind), $11"
#define CHOSEN_ID " OVERRIDING SYSTEM VALUE"

pg_noreturn static void ReportSkippedLedgerRow(void);

static void
ReportSkippedLedgerRow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("a trigger on enrollment.payments skipped a ledger row")));
}

/*
 * The event kind of a ledger row, from its kind column (version 1.1).
 */
static EventKind
EntryKind(const EnrollmentCatalog *catalog, Datum kind, bool isnull)
{
	return (EventKind) EnumIndex(&catalog->event_kind_values, kind, isnull,
								 "ledger row has an unknown kind");
}

/*
 * The payment_result columns of a ledger row found in slot.
 */
static void
EntryFromLedgerRow(PaymentTables *tables, TupleTableSlot *slot,
				   LedgerEntry *entry)
{
	const EnrollmentCatalog *catalog = &tables->catalog;
	AttrNumber	ledger_columns[] = {
		catalog->payment.payment_id, catalog->payment.user_id,
		catalog->payment.course_id, catalog->payment.amount,
		catalog->payment.amount_paid_after, catalog->payment.amount_due_after,
		catalog->payment.status_after, catalog->payment.created_at
	};

	for (int i = 0; i < (int) lengthof(result_columns); i++)
		entry->values[result_columns[i]] =
			slot_getattr(slot, ledger_columns[i], &entry->nulls[result_columns[i]]);
	entry->values[RESULT_REPLAYED] = BoolGetDatum(true);
	entry->nulls[RESULT_REPLAYED] = false;

	entry->kind = EVENT_PAYMENT;
	if (catalog->payment.kind != InvalidAttrNumber)
	{
		bool		isnull;
		Datum		kind = slot_getattr(slot, catalog->payment.kind, &isnull);

		entry->kind = EntryKind(catalog, kind, isnull);
	}
}

/*
 * The payment_result columns of the ledger row that the last SQL
 * statement returned (LEDGER_ENTRY_COLUMNS, then kind from version 1.1),
 * copied to the current memory context.
 */
static void
EntryFromReturnedRow(PaymentTables *tables, LedgerEntry *entry)
{
	HeapTuple	row = heap_copytuple(SPI_tuptable->vals[0]);
	TupleDesc	desc = SPI_tuptable->tupdesc;
	Datum		columns[lengthof(result_columns) + 1];
	bool		nulls[lengthof(result_columns) + 1];

	Assert(desc->natts <= (int) lengthof(columns));
	heap_deform_tuple(row, desc, columns, nulls);
	for (int i = 0; i < (int) lengthof(result_columns); i++)
	{
		entry->values[result_columns[i]] = columns[i];
		entry->nulls[result_columns[i]] = nulls[i];
	}
	entry->values[RESULT_REPLAYED] = BoolGetDatum(true);
	entry->nulls[RESULT_REPLAYED] = false;
	if (desc->natts > (int) lengthof(result_columns))
		entry->kind = EntryKind(&tables->catalog,
								columns[lengthof(result_columns)],
								nulls[lengthof(result_columns)]);
	else
		entry->kind = EVENT_PAYMENT;
	SPI_freetuptable(SPI_tuptable);
}

/*
 * LedgerFindKey() in SQL.  A plain SELECT does not wait for a transaction
 * inserting the key, nor raise 40001 for a key its snapshot cannot see; it
 * is only asked once the enrollment is locked, and a retry of the same call
 * waits for that lock.  README.md (design notes) lists what this changes.
 */
static bool
LedgerFindKeyBySQL(PaymentTables *tables, text *user_id,
				   text *idempotency_key, LedgerEntry *entry)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};	/* without, with kind */
	bool		has_kind = tables->catalog.payment.kind != InvalidAttrNumber;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		key[2] = {PointerGetDatum(user_id), PointerGetDatum(idempotency_key)};

	SavedPlan(&plans[has_kind],
			  has_kind ?
			  KEY_LOOKUP_SQL(LEDGER_ENTRY_COLUMNS ", kind") :
			  KEY_LOOKUP_SQL(LEDGER_ENTRY_COLUMNS),
			  2, argtypes);
	if (ExecuteSavedPlan(plans[has_kind], key, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	EntryFromReturnedRow(tables, entry);
	return true;
}

/*
 * Raise 40001 for a key taken by a transaction that a REPEATABLE READ or
 * SERIALIZABLE snapshot cannot see; INSERT ... ON CONFLICT does the same.
 * Otherwise read the ledger row at tid into tables->payment_slot.
 */
static void
FetchKeyHolder(PaymentTables *tables, ItemPointer tid)
{
	Relation	rel = tables->payments->ri_RelationDesc;
	Snapshot	snapshot = IsolationUsesXactSnapshot() ?
		tables->estate->es_snapshot : SnapshotAny;

	if (!table_tuple_fetch_row_version(rel, tid, snapshot, tables->payment_slot))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent update")));
}

/*
 * Find the payment that user_id made with idempotency_key.  A transaction
 * inserting that key right now is waited for, so the answer is final: call
 * it with the enrollment locked, and a retry sees the payment of the call
 * it retries once that call has committed.
 */
bool
LedgerFindKey(PaymentTables *tables, text *user_id, text *idempotency_key,
			  LedgerEntry *entry)
{
	const EnrollmentCatalog *catalog = &tables->catalog;
	TupleTableSlot *probe = tables->new_payment_slot;
	ItemPointerData holder;

	if (tables->by_sql)
		return LedgerFindKeyBySQL(tables, user_id, idempotency_key, entry);

	/* a row with just the key's columns, to probe the unique index */
	ExecClearTuple(probe);
	memset(probe->tts_isnull, true,
		   probe->tts_tupleDescriptor->natts * sizeof(bool));
	probe->tts_values[catalog->payment.user_id - 1] = PointerGetDatum(user_id);
	probe->tts_isnull[catalog->payment.user_id - 1] = false;
	probe->tts_values[catalog->payment.idempotency_key - 1] =
		PointerGetDatum(idempotency_key);
	probe->tts_isnull[catalog->payment.idempotency_key - 1] = false;
	ExecStoreVirtualTuple(probe);

	if (CheckUniqueIndexes(tables->payments, probe, tables->estate, &holder,
						   list_make1_oid(catalog->payments_key_index)))
		return false;

	FetchKeyHolder(tables, &holder);
	EntryFromLedgerRow(tables, tables->payment_slot, entry);
	return true;
}

/*
 * Insert a ledger row with the executor's routines: BEFORE and AFTER ROW
 * triggers, constraints, indexes.  A row with an idempotency key goes in as
 * INSERT ... ON CONFLICT (user_id, idempotency_key) DO NOTHING would put
 * it: wait for transactions inserting the same key, and insert
 * speculatively so that a race with one of them cannot end in a unique
 * violation.  Returns false, inserting nothing, if the key is taken, with
 * the row holding it in tables->payment_slot; under REPEATABLE READ and
 * SERIALIZABLE, a key taken by a transaction the snapshot cannot see is a
 * serialization failure (40001).
 */
static bool
InsertLedgerRow(PaymentTables *tables, TupleTableSlot *slot, bool has_key)
{
	ResultRelInfo *rri = tables->payments;
	Relation	rel = rri->ri_RelationDesc;
	EState	   *estate = tables->estate;
	List	   *arbiter = list_make1_oid(tables->catalog.payments_key_index);
	List	   *recheck;

	if (rri->ri_TrigDesc && rri->ri_TrigDesc->trig_insert_before_row &&
		!ExecBRInsertTriggers(estate, rri, slot))
		ReportSkippedLedgerRow();
	if (rel->rd_att->constr && rel->rd_att->constr->has_generated_stored)
		ExecComputeStoredGenerated(rri, estate, slot, CMD_INSERT);
	ExecConstraints(rri, slot, estate);

	if (!has_key)
	{
		simple_table_tuple_insert(rel, slot);
		recheck = InsertIndexEntries(rri, slot, estate, false, NULL, NIL);
		ExecARInsertTriggers(estate, rri, slot, recheck, NULL);
		return true;
	}

	/*
	 * Try the insertion first: the key is new but for retries, and the
	 * unique index finds those as it inserts.  Look for the holder only
	 * after losing.
	 */
	for (bool first = true;; first = false)
	{
		ItemPointerData conflict;
		uint32		token;
		bool		lost_race = false;

		if (!first &&
			!CheckUniqueIndexes(rri, slot, estate, &conflict, arbiter))
		{
			FetchKeyHolder(tables, &conflict);
			return false;
		}

		token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
		table_tuple_insert_speculative(rel, slot, estate->es_output_cid, 0, NULL,
									   token);
		recheck = InsertIndexEntries(rri, slot, estate, true, &lost_race,
									 arbiter);
		table_tuple_complete_speculative(rel, slot, token, !lost_race);
		SpeculativeInsertionLockRelease(GetCurrentTransactionId());

		if (!lost_race)
		{
			ExecARInsertTriggers(estate, rri, slot, recheck, NULL);
			return true;
		}
		/* another transaction inserted the key meanwhile: check again */
	}
}

/*
 * Under Citus, the payment_id of a new ledger row of the enrollment that
 * the caller has locked: the next value of this node's sequence if it is
 * above the enrollment's last id, else the first value above that id
 * which the sequence would issue (same residue modulo its increment:
 * the README's recipe gives each node its own), and the sequence is set
 * there.  Drawing an id takes the sequence's object lock in share mode,
 * setting it in exclusive mode, each for that moment only: no node ever
 * issues an id twice, and the ids of one enrollment increase in the order
 * of its changes wherever they run.
 */
static int64
NextPaymentIdOnCitus(Oid sequence, text *user_id, text *course_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		key[2] = {PointerGetDatum(user_id), PointerGetDatum(course_id)};
	bool		isnull;
	HeapTuple	tuple;
	int64		increment;
	int64		last_id = 0;
	int64		id;

	SavedPlan(&plan,
			  "SELECT pg_catalog.max(payment_id) FROM enrollment.payments"
			  " WHERE user_id OPERATOR(pg_catalog.=) $1"
			  " AND course_id OPERATOR(pg_catalog.=) $2",
			  2, argtypes);
	ExecuteSavedPlan(plan, key, NULL, false, SPI_OK_SELECT);
	{
		Datum		max = SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			last_id = DatumGetInt64(max);
	}
	SPI_freetuptable(SPI_tuptable);

	tuple = SearchSysCache1(SEQRELID, ObjectIdGetDatum(sequence));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for sequence %u", sequence);
	increment = ((Form_pg_sequence) GETSTRUCT(tuple))->seqincrement;
	ReleaseSysCache(tuple);
	if (increment <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the ledger's payment_id sequence does not ascend"),
				 errhint("Give every node its payment ids as the README's \"Scaling out\" shows.")));

	LockDatabaseObject(RelationRelationId, sequence, 0, ShareLock);
	id = nextval_internal(sequence, true);
	UnlockDatabaseObject(RelationRelationId, sequence, 0, ShareLock);
	if (id > last_id)
		return id;

	LockDatabaseObject(RelationRelationId, sequence, 0, ExclusiveLock);
	id = nextval_internal(sequence, true);
	if (id <= last_id)
	{
		/* the first id + k * increment above last_id; setval checks the maximum */
		id += ((last_id - id) / increment + 1) * increment;
		DirectFunctionCall2(setval_oid, ObjectIdGetDatum(sequence),
							Int64GetDatum(id));
	}
	UnlockDatabaseObject(RelationRelationId, sequence, 0, ExclusiveLock);
	return id;
}

/*
 * LedgerAppend() in SQL: INSERT ... ON CONFLICT DO NOTHING RETURNING.  An
 * insert that returns nothing either lost its key to an earlier row, which
 * is then looked up, or was skipped by a BEFORE ROW trigger.
 */
static bool
LedgerAppendBySQL(PaymentTables *tables, const NewPayment *payment,
				  LedgerEntry *entry)
{
	/* [with kind][with the id chosen here]; unused parameters are allowed */
	static SPIPlanPtr plans[2][2] = {{NULL, NULL}, {NULL, NULL}};
	static const char *const statements[2][2] = {
		{LEDGER_INSERT_SQL("", "", "", LEDGER_ENTRY_COLUMNS),
		LEDGER_INSERT_SQL(", payment_id", CHOSEN_ID, ", $12", LEDGER_ENTRY_COLUMNS)},
		{LEDGER_INSERT_SQL(", kind, reason", "", KIND_VALUES,
						   LEDGER_ENTRY_COLUMNS ", kind"),
		LEDGER_INSERT_SQL(", kind, reason, payment_id", CHOSEN_ID,
						  KIND_VALUES ", $12", LEDGER_ENTRY_COLUMNS ", kind")}
	};
	bool		has_kind = tables->catalog.payment.kind != InvalidAttrNumber;
	bool		on_citus = tables->on_citus;
	Oid			argtypes[12] = {TEXTOID, TEXTOID, NUMERICOID, TEXTOID,
		NUMERICOID, NUMERICOID, TEXTOID, TIMESTAMPTZOID, NAMEOID, TEXTOID,
	TEXTOID, INT8OID};
	Datum		values[12];
	char		nulls[12];
	SPIPlanPtr	plan;

	memset(nulls, ' ', sizeof(nulls));
	plan = SavedPlan(&plans[has_kind][on_citus], statements[has_kind][on_citus],
					 lengthof(argtypes), argtypes);

	values[0] = PointerGetDatum(payment->user_id);
	values[1] = PointerGetDatum(payment->course_id);
	values[2] = NumericGetDatum(MinorUnitsToNumeric(payment->amount,
													payment->currency));
	values[3] = PointerGetDatum(payment->idempotency_key);
	if (payment->idempotency_key == NULL)
		nulls[3] = 'n';
	values[4] = NumericGetDatum(MinorUnitsToNumeric(payment->amount_paid_after,
													payment->currency));
	values[5] = NumericGetDatum(MinorUnitsToNumeric(payment->amount_due_after,
													payment->currency));
	values[6] = CStringGetTextDatum(StatusLabel(payment->status_after));
	values[7] = TimestampTzGetDatum(payment->created_at);
	values[8] = tables->created_by;
	values[9] = CStringGetTextDatum(EventKindLabel(payment->kind));
	values[10] = PointerGetDatum(payment->reason);
	if (payment->reason == NULL)
		nulls[10] = 'n';
	values[11] = Int64GetDatum(on_citus ?
							   NextPaymentIdOnCitus(tables->catalog.payment_id_sequence,
													payment->user_id,
													payment->course_id) : 0);

	if (ExecuteSavedPlan(plan, values, nulls, false,
						 SPI_OK_INSERT_RETURNING) == 0)
	{
		if (payment->idempotency_key == NULL ||
			!LedgerFindKeyBySQL(tables, payment->user_id,
								payment->idempotency_key, entry))
			ReportSkippedLedgerRow();
		return false;
	}
	EntryFromReturnedRow(tables, entry);
	entry->values[RESULT_REPLAYED] = BoolGetDatum(false);
	entry->kind = payment->kind;
	return true;
}

/*
 * Append a payment to the ledger and describe it in *entry.  Returns
 * false, writing nothing, if its idempotency key is taken; *entry then
 * describes the ledger row that holds the key, as a replay.
 */
bool
LedgerAppend(PaymentTables *tables, const NewPayment *payment,
			 LedgerEntry *entry)
{
	const EnrollmentCatalog *catalog = &tables->catalog;
	TupleTableSlot *slot = tables->new_payment_slot;
	int			natts;
	Oid			status_after;

	/* raises if the installed version lacks the status or the kind */
	status_after = EnumValueOf(&catalog->status_values, payment->status_after,
							   StatusLabel(payment->status_after));
	if (catalog->payment.kind == InvalidAttrNumber &&
		payment->kind != EVENT_PAYMENT)
		(void) EnumValueOf(&catalog->event_kind_values, payment->kind,
						   EventKindLabel(payment->kind));	/* raises */

	if (tables->by_sql)
		return LedgerAppendBySQL(tables, payment, entry);

	natts = slot->tts_tupleDescriptor->natts;
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, natts * sizeof(bool));

#define SET_COLUMN(attnum, value) 	(slot->tts_values[(attnum) - 1] = (value), slot->tts_isnull[(attnum) - 1] = false)

	SET_COLUMN(catalog->payment.payment_id,
			   Int64GetDatum(nextval_internal(catalog->payment_id_sequence, true)));
	SET_COLUMN(catalog->payment.user_id, PointerGetDatum(payment->user_id));
	SET_COLUMN(catalog->payment.course_id, PointerGetDatum(payment->course_id));
	SET_COLUMN(catalog->payment.amount,
			   NumericGetDatum(MinorUnitsToNumeric(payment->amount,
												   payment->currency)));
	if (payment->idempotency_key != NULL)
		SET_COLUMN(catalog->payment.idempotency_key,
				   PointerGetDatum(payment->idempotency_key));
	SET_COLUMN(catalog->payment.amount_paid_after,
			   NumericGetDatum(MinorUnitsToNumeric(payment->amount_paid_after,
												   payment->currency)));
	SET_COLUMN(catalog->payment.amount_due_after,
			   NumericGetDatum(MinorUnitsToNumeric(payment->amount_due_after,
												   payment->currency)));
	SET_COLUMN(catalog->payment.status_after, ObjectIdGetDatum(status_after));
	SET_COLUMN(catalog->payment.created_at,
			   TimestampTzGetDatum(payment->created_at));
	SET_COLUMN(catalog->payment.created_by, tables->created_by);
	if (catalog->payment.kind != InvalidAttrNumber)
		SET_COLUMN(catalog->payment.kind,
				   ObjectIdGetDatum(EnumValueOf(&catalog->event_kind_values,
												payment->kind,
												EventKindLabel(payment->kind))));
	if (payment->reason != NULL && catalog->payment.reason != InvalidAttrNumber)
		SET_COLUMN(catalog->payment.reason, PointerGetDatum(payment->reason));
#undef SET_COLUMN
	for (int i = 0; i < tables->ledger_defaults.count; i++)
	{
		AttrNumber	attnum = tables->ledger_defaults.columns[i];

		slot->tts_values[attnum - 1] =
			ExecEvalExprSwitchContext(tables->ledger_defaults.exprs[i],
									  GetPerTupleExprContext(tables->estate),
									  &slot->tts_isnull[attnum - 1]);
	}

	ExecStoreVirtualTuple(slot);
	if (!InsertLedgerRow(tables, slot, payment->idempotency_key != NULL))
	{
		EntryFromLedgerRow(tables, tables->payment_slot, entry);
		return false;
	}

	EntryFromLedgerRow(tables, slot, entry);
	entry->values[RESULT_REPLAYED] = BoolGetDatum(false);
	entry->kind = payment->kind;
	return true;
}

/*
 * Trigger function: refuse UPDATE, DELETE and TRUNCATE of the ledger.
 */
PG_FUNCTION_INFO_V1(refuse_ledger_change);

Datum
refuse_ledger_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *operation;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("refuse_ledger_change() must be called as a trigger")));

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		operation = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		operation = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		operation = "TRUNCATE";
	else
		operation = "this operation";

	ereport(ERROR,
			(errcode(ERRCODE_ENROLLMENT_LEDGER_APPEND_ONLY),
			 errmsg("the payment ledger is append-only"),
			 errdetail("%s on table \"%s\" is not allowed.",
					   operation, RelationGetRelationName(trigdata->tg_relation))));
	PG_RETURN_NULL();
}
