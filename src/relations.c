/*-------------------------------------------------------------------------
 *
 * relations.c
 *	  The extension's tables, opened for direct access by the payment path.
 *
 * Payments do not go through SQL statements: they find, lock, update and
 * insert rows with PostgreSQL's index and table access methods, as the
 * logical replication apply worker does, so that a payment costs about
 * what the bare UPDATE and INSERT cost.  The executor's own routines still
 * check the CHECK and NOT NULL constraints (ExecConstraints), maintain the
 * indexes (ExecInsertIndexTuples) and queue the AFTER ROW triggers, among
 * them the foreign key checks, so the tables' rules hold as for SQL.
 *
 * What that needs from the catalogs (OIDs of the tables, indexes, sequence
 * and enum labels, column numbers, the executable CHECK constraints) is
 * looked up once per backend and forgotten when an invalidation message
 * says that one of those relations or types changed (ALTER TABLE, DROP
 * EXTENSION).  A call copies what it needs at its start, and a rebuild
 * keeps the old CHECK constraints until the transaction ends, so nothing
 * is pulled from under a running call.  Everything else lives for one
 * call.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* The catalog, valid until an invalidation message says otherwise. */
static EnrollmentCatalog catalog;
static bool catalog_valid = false;
static bool callbacks_registered = false;

/*
 * The executable CHECK constraints of the two written tables, in the order
 * of their relcache entries (NULL for a constraint not yet validated),
 * allocated in catalog_context.  A rebuild starts a new context; the old
 * one is kept until the end of the transaction, since a call that is still
 * running (one level up the stack) may be using it.
 */
typedef struct CheckStates
{
	int			count;
	ExprState **states;
} CheckStates;

static MemoryContext catalog_context = NULL;
static List *retired_contexts = NIL;
static CheckStates enrollments_checks;
static CheckStates payments_checks;

/*
 * Invalidation callbacks: forget the catalog if anything it describes may
 * have changed.  They only set a flag; the rebuild happens at the start of
 * the next call.
 */
static void
RelcacheChanged(Datum arg, Oid relid)
{
	if (relid == InvalidOid ||
		relid == catalog.enrollments || relid == catalog.enrollments_pkey ||
		relid == catalog.payments || relid == catalog.payments_key_index ||
		relid == catalog.payment_id_sequence ||
		relid == catalog.currencies || relid == catalog.currencies_pkey)
		catalog_valid = false;
}

static void
SyscacheChanged(Datum arg, int cacheid, uint32 hashvalue)
{
	catalog_valid = false;
}

static Oid
RelationIn(Oid namespace, const char *name)
{
	Oid			relid = get_relname_relid(name, namespace);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"enrollment.%s\" does not exist", name),
				 errhint("The extension's objects were changed or dropped; reinstall it.")));
	return relid;
}

static AttrNumber
ColumnOf(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						name, get_rel_name(relid)),
				 errhint("The extension's objects were changed or dropped; reinstall it.")));
	return attnum;
}

static void
FreeRetiredContexts(XactEvent event, void *arg)
{
	ListCell   *lc;

	foreach(lc, retired_contexts)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(retired_contexts);
	retired_contexts = NIL;
}

/*
 * The executable CHECK constraints of a table, prepared once for all the
 * calls of this backend, in the current memory context.
 */
static CheckStates
PrepareChecks(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	CheckStates checks = {0, NULL};

	if (constr != NULL && constr->num_check > 0)
	{
		checks.count = constr->num_check;
		checks.states = palloc0(checks.count * sizeof(ExprState *));
		for (int i = 0; i < checks.count; i++)
		{
			if (constr->check[i].ccvalid)
				checks.states[i] =
					ExecInitExpr(expression_planner(stringToNode(constr->check[i].ccbin)),
								 NULL);
		}
	}
	table_close(rel, NoLock);
	return checks;
}

/*
 * Look everything up again.
 */
static void
BuildCatalog(void)
{
	Oid			namespace = get_namespace_oid("enrollment", false);
	Oid			status_type;
	MemoryContext oldcontext;

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(RelcacheChanged, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, SyscacheChanged, (Datum) 0);
		CacheRegisterSyscacheCallback(ENUMOID, SyscacheChanged, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, SyscacheChanged, (Datum) 0);
		RegisterXactCallback(FreeRetiredContexts, NULL);
		callbacks_registered = true;
	}
	if (catalog_context != NULL)
	{
		oldcontext = MemoryContextSwitchTo(TopMemoryContext);
		retired_contexts = lappend(retired_contexts, catalog_context);
		MemoryContextSwitchTo(oldcontext);
	}
	catalog_context = AllocSetContextCreate(CacheMemoryContext,
											"enrollment catalog",
											ALLOCSET_SMALL_SIZES);
	enrollments_checks.count = payments_checks.count = 0;

	/*
	 * Valid from here on, unless an invalidation arrives while we look
	 * things up: then the next call builds it again.
	 */
	catalog_valid = true;

	catalog.enrollments = RelationIn(namespace, "enrollments");
	catalog.enrollments_pkey = RelationIn(namespace, "enrollments_pkey");
	catalog.payments = RelationIn(namespace, "payments");
	catalog.payments_key_index = RelationIn(namespace, "payments_idempotency_key_unique");
	catalog.currencies = RelationIn(namespace, "currencies");
	catalog.currencies_pkey = RelationIn(namespace, "currencies_pkey");

	catalog.enrollment.user_id = ColumnOf(catalog.enrollments, "user_id");
	catalog.enrollment.course_id = ColumnOf(catalog.enrollments, "course_id");
	catalog.enrollment.currency = ColumnOf(catalog.enrollments, "currency");
	catalog.enrollment.price = ColumnOf(catalog.enrollments, "price");
	catalog.enrollment.amount_paid = ColumnOf(catalog.enrollments, "amount_paid");
	catalog.enrollment.amount_due = ColumnOf(catalog.enrollments, "amount_due");
	catalog.enrollment.status = ColumnOf(catalog.enrollments, "status");
	catalog.enrollment.updated_at = ColumnOf(catalog.enrollments, "updated_at");
	catalog.enrollment.paid_at = ColumnOf(catalog.enrollments, "paid_at");

	catalog.payment.payment_id = ColumnOf(catalog.payments, "payment_id");
	catalog.payment.user_id = ColumnOf(catalog.payments, "user_id");
	catalog.payment.course_id = ColumnOf(catalog.payments, "course_id");
	catalog.payment.amount = ColumnOf(catalog.payments, "amount");
	catalog.payment.idempotency_key = ColumnOf(catalog.payments, "idempotency_key");
	catalog.payment.amount_paid_after = ColumnOf(catalog.payments, "amount_paid_after");
	catalog.payment.amount_due_after = ColumnOf(catalog.payments, "amount_due_after");
	catalog.payment.status_after = ColumnOf(catalog.payments, "status_after");
	catalog.payment.created_at = ColumnOf(catalog.payments, "created_at");
	catalog.payment.created_by = ColumnOf(catalog.payments, "created_by");
	catalog.payment_id_sequence = getIdentitySequence(catalog.payments,
													  catalog.payment.payment_id,
													  false);

	catalog.currency_minor_unit = ColumnOf(catalog.currencies, "minor_unit");

	status_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								  CStringGetDatum("payment_status"),
								  ObjectIdGetDatum(namespace));
	for (int i = 0; i < NUM_ENROLLMENT_STATUSES; i++)
	{
		catalog.status_values[i] =
			GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
							ObjectIdGetDatum(status_type),
							CStringGetDatum(StatusLabel((EnrollmentStatus) i)));
		if (!OidIsValid(catalog.status_values[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("enrollment.payment_status has no value \"%s\"",
							StatusLabel((EnrollmentStatus) i))));
	}

	oldcontext = MemoryContextSwitchTo(catalog_context);
	enrollments_checks = PrepareChecks(catalog.enrollments);
	payments_checks = PrepareChecks(catalog.payments);
	MemoryContextSwitchTo(oldcontext);
}

static ResultRelInfo *
OpenResultRelation(EState *estate, Relation rel, Index rtindex,
				   const CheckStates *checks)
{
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	InitResultRelInfo(rri, rel, rtindex, NULL, 0);
	ExecOpenIndices(rri, true);

	/* the prepared CHECK constraints, unless the executor must prepare them */
	if (constr != NULL && constr->num_check == checks->count)
		rri->ri_ConstraintExprs = checks->states;

	estate->es_opened_result_relations =
		lappend(estate->es_opened_result_relations, rri);
	return rri;
}

/*
 * A range table entry for rel, asking for the privileges the statement
 * would need in SQL; the current user (the extension's owner, since the
 * functions are SECURITY DEFINER) must have them.
 */
static RangeTblEntry *
RangeTableEntry(Relation rel, LOCKMODE lockmode, AclMode privileges)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = lockmode;
	rte->requiredPerms = privileges;
	return rte;
}

static Relation
IndexOf(ResultRelInfo *rri, Oid indexid)
{
	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		if (RelationGetRelid(rri->ri_IndexRelationDescs[i]) == indexid)
			return rri->ri_IndexRelationDescs[i];
	}
	elog(ERROR, "index %u of relation \"%s\" is not open", indexid,
		 RelationGetRelationName(rri->ri_RelationDesc));
	pg_unreachable();
}

/*
 * Open the tables for one call of a payment function, and start catching
 * AFTER triggers.  Must be paired with ClosePaymentTables().
 */
void
OpenPaymentTables(PaymentTables *tables)
{
	Relation	enrollments;
	Relation	payments;
	EState	   *estate;
	List	   *range_table;
	MemoryContext oldcontext;

	/* what SQL would refuse, this refuses too */
	PreventCommandIfReadOnly("a payment");

	/*
	 * Opening a table processes invalidation messages; if one concerned us
	 * (the extension was dropped and created again, say), look everything
	 * up again and reopen.
	 */
	for (;;)
	{
		if (!catalog_valid)
			BuildCatalog();
		enrollments = try_relation_open(catalog.enrollments, RowExclusiveLock);
		payments = try_relation_open(catalog.payments, RowExclusiveLock);
		tables->currencies = try_relation_open(catalog.currencies, AccessShareLock);
		tables->currencies_pkey = try_relation_open(catalog.currencies_pkey,
													AccessShareLock);
		if (catalog_valid && enrollments && payments && tables->currencies &&
			tables->currencies_pkey)
			break;
		catalog_valid = false;
		if (tables->currencies_pkey)
			relation_close(tables->currencies_pkey, AccessShareLock);
		if (tables->currencies)
			relation_close(tables->currencies, AccessShareLock);
		if (payments)
			relation_close(payments, RowExclusiveLock);
		if (enrollments)
			relation_close(enrollments, RowExclusiveLock);
	}
	tables->catalog = catalog;

	estate = CreateExecutorState();
	oldcontext = MemoryContextSwitchTo(estate->es_query_cxt);

	range_table = list_make3(RangeTableEntry(enrollments, RowExclusiveLock,
											 ACL_SELECT | ACL_UPDATE),
							 RangeTableEntry(payments, RowExclusiveLock,
											 ACL_SELECT | ACL_INSERT),
							 RangeTableEntry(tables->currencies, AccessShareLock,
											 ACL_SELECT));
	ExecCheckRTPerms(range_table, true);
	ExecInitRangeTable(estate, range_table);
	tables->enrollments = OpenResultRelation(estate, enrollments, 1,
											 &enrollments_checks);
	tables->payments = OpenResultRelation(estate, payments, 2,
										  &payments_checks);
	tables->enrollments_pkey = IndexOf(tables->enrollments,
									   catalog.enrollments_pkey);
	tables->payments_key_index = IndexOf(tables->payments,
										 catalog.payments_key_index);

	tables->enrollment_slot = table_slot_create(enrollments, &estate->es_tupleTable);
	tables->new_enrollment_slot = ExecInitExtraTupleSlot(estate,
														 RelationGetDescr(enrollments),
														 &TTSOpsVirtual);
	tables->payment_slot = table_slot_create(payments, &estate->es_tupleTable);
	tables->new_payment_slot = ExecInitExtraTupleSlot(estate,
													  RelationGetDescr(payments),
													  &TTSOpsVirtual);
	tables->currency_slot = table_slot_create(tables->currencies,
											  &estate->es_tupleTable);
	EvalPlanQualInit(&tables->epqstate, estate, NULL, NIL, -1);

	tables->created_by = DirectFunctionCall1(namein,
											 CStringGetDatum(GetUserNameFromId(GetSessionUserId(),
																			   false)));
	MemoryContextSwitchTo(oldcontext);

	tables->estate = estate;
	AfterTriggerBeginQuery();
}

/*
 * Fire the queued AFTER triggers (the foreign key checks among them) and
 * close what OpenPaymentTables() opened.
 */
void
ClosePaymentTables(PaymentTables *tables)
{
	EState	   *estate = tables->estate;

	PushActiveSnapshot(GetTransactionSnapshot());
	AfterTriggerEndQuery(estate);
	PopActiveSnapshot();

	EvalPlanQualEnd(&tables->epqstate);
	ExecCloseResultRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	index_close(tables->currencies_pkey, NoLock);
	table_close(tables->currencies, NoLock);
	table_close(tables->payments->ri_RelationDesc, NoLock);
	table_close(tables->enrollments->ri_RelationDesc, NoLock);
	FreeExecutorState(estate);
	tables->estate = NULL;
}

/*
 * Start one payment: make the changes of earlier payments in this
 * transaction visible, and take a snapshot (a new one under READ
 * COMMITTED, the transaction's under REPEATABLE READ and SERIALIZABLE).
 */
void
BeginPaymentStep(PaymentTables *tables)
{
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	tables->estate->es_snapshot = GetActiveSnapshot();
	tables->estate->es_output_cid = GetCurrentCommandId(true);
}

/*
 * After waiting for a row lock, see what the transactions we waited for
 * committed: under READ COMMITTED, take a new snapshot.
 */
void
RefreshPaymentSnapshot(PaymentTables *tables)
{
	if (IsolationUsesXactSnapshot())
		return;
	PopActiveSnapshot();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	tables->estate->es_snapshot = GetActiveSnapshot();
}

/*
 * Within a step, make what the step wrote so far visible to what follows.
 */
void
NextPaymentCommand(PaymentTables *tables)
{
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
	tables->estate->es_output_cid = GetCurrentCommandId(true);
}

void
EndPaymentStep(PaymentTables *tables)
{
	PopActiveSnapshot();
	tables->estate->es_snapshot = InvalidSnapshot;
	ResetPerTupleExprContext(tables->estate);
}

/*
 * Find the row of rel whose unique index has the given text key, as
 * visible to snapshot, and store it in slot.
 */
bool
FindRowByTextKey(Relation rel, Relation index, Snapshot snapshot,
				 int nkeys, Datum *keys, TupleTableSlot *slot)
{
	ScanKeyData scankeys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	bool		found;

	Assert(nkeys <= INDEX_MAX_KEYS);
	for (int i = 0; i < nkeys; i++)
	{
		ScanKeyInit(&scankeys[i], i + 1, BTEqualStrategyNumber, F_TEXTEQ,
					keys[i]);
		scankeys[i].sk_collation = index->rd_indcollation[i];
	}

	scan = index_beginscan(rel, index, snapshot, nkeys, 0);
	index_rescan(scan, scankeys, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	return found;
}
