/*-------------------------------------------------------------------------
 *
 * relations.c
 *	  The extension's tables, opened for direct access by the payment path,
 *	  or reached through SQL statements where enrollment.table_access says so.
 *
 * Payments need not go through SQL statements: they find, lock, update and
 * insert rows with PostgreSQL's index and table access methods, as the
 * logical replication apply worker does, so that a payment costs about
 * what the bare UPDATE and INSERT cost.  The executor's own routines still
 * check the CHECK and NOT NULL constraints (ExecConstraints), maintain the
 * indexes (ExecInsertIndexTuples) and fire the row triggers, so the tables'
 * rules hold as for SQL.  One trigger is left out: the check of the
 * ledger's foreign key to enrollments, which a payment makes true by
 * construction.  It writes a ledger row only for the enrollment it has
 * just locked (FOR NO KEY UPDATE) and updated, so the referenced row
 * exists and no other transaction can delete it or change its key until
 * this one ends, which is all the check's FOR KEY SHARE lock would give.
 * Every other writer of the ledger is still checked.
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
 * Where the tables are not what they seem, direct access would read and
 * write the wrong rows: under Citus, the tables on each node are empty
 * shells and a user's rows live in a shard.  There the payment path runs
 * SQL statements instead (saved plans, plans.c), which Citus routes by
 * their user_id; locking.c and ledger.c hold both ways, which behave the
 * same.  enrollment.table_access chooses: direct, sql, or auto (the
 * default), which is sql when the citus extension is installed in the
 * database, as seen when the catalog was last looked up.
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
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
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
static bool citus_installed = false;	/* when the catalog was built */

/* enrollment.table_access: how payments reach the tables */
typedef enum TableAccess
{
	TABLE_ACCESS_AUTO,
	TABLE_ACCESS_DIRECT,
	TABLE_ACCESS_SQL
} TableAccess;

static const struct config_enum_entry table_access_options[] = {
	{"auto", TABLE_ACCESS_AUTO, false},
	{"direct", TABLE_ACCESS_DIRECT, false},
	{"sql", TABLE_ACCESS_SQL, false},
	{NULL, 0, false}
};

static int	table_access = TABLE_ACCESS_AUTO;

void
DefineTableAccessSetting(void)
{
	DefineCustomEnumVariable("enrollment.table_access",
							 "How payments reach the extension's tables.",
							 "direct uses the table and index access methods; "
							 "sql runs SQL statements, which Citus can route "
							 "to the node that holds a user's rows; auto is "
							 "sql where the citus extension is installed, "
							 "direct elsewhere.",
							 &table_access,
							 TABLE_ACCESS_AUTO,
							 table_access_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * What the payment path prepares once for each of the two tables it
 * writes, allocated in catalog_context: the executable CHECK constraints,
 * in the order of the relcache entry (NOT VALID ones too: as in SQL, they
 * hold for the rows a payment writes), the triggers to fire, when they are
 * not the table's own, and the ledger's indexes as the executor describes
 * them for inserts.  A rebuild starts a new context; the old one is kept
 * until the end of the transaction, since a call that is still running
 * (one level up the stack) may be using it.
 */
typedef struct PreparedTable
{
	int			check_count;
	ExprState **checks;
	TriggerDesc *triggers;		/* NULL: the table's own */
	int			index_count;
	Oid		   *index_ids;
	IndexInfo **index_infos;
	ColumnDefaults defaults;
} PreparedTable;

static MemoryContext catalog_context = NULL;
static List *retired_contexts = NIL;
static PreparedTable enrollments_prepared;
static PreparedTable payments_prepared;

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

/*
 * The pg_enum OIDs of the labels of enum type typname, in order; InvalidOid
 * for a label (or a type) that the installed version does not have yet.
 * Labels whose pg_enum row this transaction wrote are marked uncommitted.
 */
static void
LookUpEnumValues(Oid namespace, const char *typname, int nlabels,
				 const char *(*label) (int), EnumValues *values)
{
	Assert(nlabels <= MAX_ENUM_LABELS);
	memset(values, 0, sizeof(EnumValues));
	values->type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								   CStringGetDatum(typname),
								   ObjectIdGetDatum(namespace));
	values->count = nlabels;
	for (int i = 0; i < nlabels && OidIsValid(values->type); i++)
	{
		HeapTuple	tuple = SearchSysCache2(ENUMTYPOIDNAME,
											ObjectIdGetDatum(values->type),
											CStringGetDatum(label(i)));

		if (!HeapTupleIsValid(tuple))
			continue;
		values->oids[i] = ((Form_pg_enum) GETSTRUCT(tuple))->oid;
		if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data)))
			values->uncommitted |= ((uint32) 1) << i;
		ReleaseSysCache(tuple);
	}
}

static const char *
StatusLabelOf(int i)
{
	return StatusLabel((EnrollmentStatus) i);
}

static const char *
EventKindLabelOf(int i)
{
	return EventKindLabel((EventKind) i);
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
 * Is trigger the INSERT check of the ledger's foreign key (user_id,
 * course_id) to the key (user_id, course_id) of enrollments?
 */
static bool
IsLedgerForeignKeyCheck(const Trigger *trigger)
{
	HeapTuple	tuple;
	int			numfks;
	AttrNumber	conkey[INDEX_MAX_KEYS];
	AttrNumber	confkey[INDEX_MAX_KEYS];
	bool		result;

	if (trigger->tgfoid != F_RI_FKEY_CHECK_INS ||
		trigger->tgconstrrelid != catalog.enrollments)
		return false;

	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(trigger->tgconstraint));
	if (!HeapTupleIsValid(tuple))
		return false;
	DeconstructFkConstraintRow(tuple, &numfks, conkey, confkey,
							   NULL, NULL, NULL, NULL, NULL);
	result = numfks == 2 &&
		((conkey[0] == catalog.payment.user_id &&
		  confkey[0] == catalog.enrollment.user_id &&
		  conkey[1] == catalog.payment.course_id &&
		  confkey[1] == catalog.enrollment.course_id) ||
		 (conkey[0] == catalog.payment.course_id &&
		  confkey[0] == catalog.enrollment.course_id &&
		  conkey[1] == catalog.payment.user_id &&
		  confkey[1] == catalog.enrollment.user_id));
	ReleaseSysCache(tuple);
	return result;
}

/*
 * The triggers of the ledger without its foreign key check (see the top of
 * this file), or NULL if it has no such trigger.
 */
static TriggerDesc *
LedgerTriggersToFire(Relation payments)
{
	TriggerDesc *triggers;
	int			kept = 0;

	if (payments->trigdesc == NULL)
		return NULL;
	triggers = CopyTriggerDesc(payments->trigdesc);
	triggers->trig_insert_after_row = false;
	for (int i = 0; i < triggers->numtriggers; i++)
	{
		Trigger    *trigger = &triggers->triggers[i];

		if (IsLedgerForeignKeyCheck(trigger))
			continue;
		if (TRIGGER_FOR_ROW(trigger->tgtype) &&
			TRIGGER_FOR_AFTER(trigger->tgtype) &&
			TRIGGER_FOR_INSERT(trigger->tgtype))
			triggers->trig_insert_after_row = true;
		triggers->triggers[kept++] = *trigger;
	}
	if (kept == triggers->numtriggers)
		return NULL;
	triggers->numtriggers = kept;
	return triggers;
}

/*
 * The IndexInfo of each B-tree index of rel on plain columns, with what a
 * speculative insertion needs of the unique ones, as ExecOpenIndices()
 * would build them.  Inserts only read these, so one copy serves every
 * call; an index on expressions or with a predicate keeps executor state
 * in its IndexInfo and is described anew by each call.
 */
static void
PrepareIndexes(Relation rel, PreparedTable *prepared)
{
	List	   *index_ids = RelationGetIndexList(rel);
	ListCell   *lc;

	prepared->index_ids = palloc0(list_length(index_ids) * sizeof(Oid));
	prepared->index_infos = palloc0(list_length(index_ids) * sizeof(IndexInfo *));
	foreach(lc, index_ids)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		IndexInfo  *info = BuildIndexInfo(index);

		if (index->rd_rel->relam == BTREE_AM_OID &&
			info->ii_Expressions == NIL && info->ii_Predicate == NIL)
		{
			if (info->ii_Unique)
				BuildSpeculativeIndexInfo(index, info);
			prepared->index_ids[prepared->index_count] = lfirst_oid(lc);
			prepared->index_infos[prepared->index_count] = info;
			prepared->index_count++;
		}
		index_close(index, AccessShareLock);
	}
	list_free(index_ids);
}

/*
 * Open the indexes of the ledger for inserts, as ExecOpenIndices(rri,
 * true) does, with the prepared IndexInfos where there is one.
 */
static void
OpenLedgerIndexes(ResultRelInfo *rri, const PreparedTable *prepared)
{
	List	   *index_ids = RelationGetIndexList(rri->ri_RelationDesc);
	int			n = list_length(index_ids);
	ListCell   *lc;

	rri->ri_NumIndices = n;
	rri->ri_IndexRelationDescs = palloc(n * sizeof(Relation));
	rri->ri_IndexRelationInfo = palloc(n * sizeof(IndexInfo *));
	foreach(lc, index_ids)
	{
		Oid			index_id = lfirst_oid(lc);
		Relation	index = index_open(index_id, RowExclusiveLock);
		IndexInfo  *info = NULL;

		for (int i = 0; i < prepared->index_count && info == NULL; i++)
		{
			if (prepared->index_ids[i] == index_id)
				info = prepared->index_infos[i];
		}
		if (info == NULL)
		{
			info = BuildIndexInfo(index);
			if (info->ii_Unique)
				BuildSpeculativeIndexInfo(index, info);
		}
		rri->ri_IndexRelationDescs[foreach_current_index(lc)] = index;
		rri->ri_IndexRelationInfo[foreach_current_index(lc)] = info;
	}
	list_free(index_ids);
}

/*
 * Does the extension write this column of the ledger?
 */
static bool
IsLedgerColumn(AttrNumber attnum)
{
	const AttrNumber written[] = {
		catalog.payment.payment_id, catalog.payment.user_id,
		catalog.payment.course_id, catalog.payment.amount,
		catalog.payment.idempotency_key, catalog.payment.amount_paid_after,
		catalog.payment.amount_due_after, catalog.payment.status_after,
		catalog.payment.created_at, catalog.payment.created_by,
		catalog.payment.kind, catalog.payment.reason
	};

	for (int i = 0; i < (int) lengthof(written); i++)
	{
		if (written[i] == attnum)
			return true;
	}
	return false;
}

/*
 * The defaults of the columns of the ledger that the extension does not
 * write; generated columns are computed on insert instead.
 */
static ColumnDefaults
PrepareLedgerDefaults(Relation payments)
{
	TupleDesc	desc = RelationGetDescr(payments);
	ColumnDefaults defaults = {0};

	defaults.columns = palloc(desc->natts * sizeof(AttrNumber));
	defaults.exprs = palloc(desc->natts * sizeof(ExprState *));
	for (AttrNumber attnum = 1; attnum <= desc->natts; attnum++)
	{
		Form_pg_attribute attribute = TupleDescAttr(desc, attnum - 1);
		Node	   *expr;

		if (attribute->attisdropped || attribute->attgenerated ||
			IsLedgerColumn(attnum))
			continue;
		expr = build_column_default(payments, attnum);
		if (expr == NULL)
			continue;
		defaults.columns[defaults.count] = attnum;
		defaults.exprs[defaults.count] =
			ExecInitExpr(expression_planner((Expr *) expr), NULL);
		defaults.count++;
	}
	return defaults;
}

/*
 * Prepare what the payment path needs of a table for all the calls of
 * this backend, in the current memory context.
 */
static PreparedTable
PrepareTable(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	PreparedTable prepared = {0};

	if (constr != NULL && constr->num_check > 0)
	{
		prepared.check_count = constr->num_check;
		prepared.checks = palloc0(prepared.check_count * sizeof(ExprState *));
		for (int i = 0; i < prepared.check_count; i++)
			prepared.checks[i] =
				ExecInitExpr(expression_planner(stringToNode(constr->check[i].ccbin)),
							 NULL);
	}
	if (relid == catalog.payments)
	{
		prepared.triggers = LedgerTriggersToFire(rel);
		PrepareIndexes(rel, &prepared);
		prepared.defaults = PrepareLedgerDefaults(rel);
	}
	table_close(rel, NoLock);
	return prepared;
}

/*
 * Fill in the catalog and prepare the tables.
 */
static void
LookUpCatalog(Oid namespace)
{
	MemoryContext oldcontext;

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
	/* version 1.1 */
	catalog.payment.kind = get_attnum(catalog.payments, "kind");
	catalog.payment.reason = get_attnum(catalog.payments, "reason");
	catalog.payment_id_sequence = IdentitySequenceOf(catalog.payments,
													 catalog.payment.payment_id);

	catalog.currency_minor_unit = ColumnOf(catalog.currencies, "minor_unit");

	LookUpEnumValues(namespace, "payment_status", NUM_ENROLLMENT_STATUSES,
					 StatusLabelOf, &catalog.status_values);
	for (int i = 0; i <= ENROLLMENT_PAID; i++)
	{
		if (!OidIsValid(catalog.status_values.oids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("enrollment.payment_status has no value \"%s\"",
							StatusLabel((EnrollmentStatus) i))));
	}
	LookUpEnumValues(namespace, "event_kind", NUM_EVENT_KINDS,
					 EventKindLabelOf, &catalog.event_kind_values);
	citus_installed = OidIsValid(get_extension_oid("citus", true));

	oldcontext = MemoryContextSwitchTo(catalog_context);
	enrollments_prepared = PrepareTable(catalog.enrollments);
	payments_prepared = PrepareTable(catalog.payments);
	MemoryContextSwitchTo(oldcontext);
}

/*
 * Look everything up again.
 */
static void
BuildCatalog(void)
{
	Oid			namespace = get_namespace_oid("enrollment", false);
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
	memset(&enrollments_prepared, 0, sizeof(PreparedTable));
	memset(&payments_prepared, 0, sizeof(PreparedTable));

	/*
	 * Valid from here on, unless an invalidation arrives while we look
	 * things up: then the next call builds it again.  An error leaves it
	 * invalid, not half filled in.
	 */
	catalog_valid = true;
	PG_TRY();
	{
		LookUpCatalog(namespace);
	}
	PG_CATCH();
	{
		catalog_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static ResultRelInfo *
OpenResultRelation(EState *estate, Relation rel, Index rtindex,
				   const PreparedTable *prepared)
{
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	InitResultRelInfo(rri, rel, rtindex, NULL, 0);
	if (RelationGetRelid(rel) == catalog.payments)
		OpenLedgerIndexes(rri, prepared);
	else
		ExecOpenIndices(rri, false);	/* updates need no arbiter */

	/* the prepared CHECK constraints, unless the executor must prepare them */
	if (constr != NULL && constr->num_check == prepared->check_count)
		SetCheckConstraintStates(rri, prepared->checks);

	/*
	 * A subset of the table's triggers; InitResultRelInfo() sized the
	 * per-trigger arrays for all of them, which is more than enough.
	 */
	if (prepared->triggers != NULL)
		rri->ri_TrigDesc = prepared->triggers;

	estate->es_opened_result_relations =
		lappend(estate->es_opened_result_relations, rri);
	return rri;
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

static Datum
SessionUserName(void)
{
	return DirectFunctionCall1(namein,
							   CStringGetDatum(GetUserNameFromId(GetSessionUserId(),
																 false)));
}

/*
 * Prepare a call that reaches the tables through SQL statements, which
 * run in SPI, while the caller's memory context stays current.
 */
static void
OpenForStatements(PaymentTables *tables)
{
	MemoryContext caller = CurrentMemoryContext;

	memset(tables, 0, sizeof(PaymentTables));
	tables->by_sql = true;
	tables->on_citus = citus_installed;
	tables->catalog = catalog;
	tables->created_by = SessionUserName();
	ConnectSPI();
	MemoryContextSwitchTo(caller);
}

/*
 * Open the tables for one call of a payment function, and start catching
 * AFTER triggers; or, if enrollment.table_access says so, prepare to
 * reach them through SQL.  Must be paired with ClosePaymentTables().
 */
void
OpenPaymentTables(PaymentTables *tables)
{
	Relation	enrollments;
	Relation	payments;
	EState	   *estate;
	AttrNumber	written[6];
	Bitmapset  *written_columns = NULL;
	RangeTable	range_table = {NIL, NIL};
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

	/*
	 * Through SQL, the statements open the tables themselves; the locks
	 * taken above stay, and with them a catalog that is up to date.
	 */
	if (table_access == TABLE_ACCESS_SQL ||
		(table_access == TABLE_ACCESS_AUTO && citus_installed))
	{
		index_close(tables->currencies_pkey, NoLock);
		table_close(tables->currencies, NoLock);
		table_close(payments, NoLock);
		table_close(enrollments, NoLock);
		OpenForStatements(tables);
		return;
	}

	tables->by_sql = false;
	tables->catalog = catalog;
	tables->ledger_defaults = payments_prepared.defaults;

	estate = CreateExecutorState();
	oldcontext = MemoryContextSwitchTo(estate->es_query_cxt);

	/*
	 * The privileges the statements would need in SQL; the current user
	 * (the extension's owner, since the functions are SECURITY DEFINER)
	 * must have them.  An update of an enrollment writes these columns, for
	 * UPDATE OF triggers.
	 */
	written[0] = catalog.enrollment.price;
	written[1] = catalog.enrollment.amount_paid;
	written[2] = catalog.enrollment.amount_due;
	written[3] = catalog.enrollment.status;
	written[4] = catalog.enrollment.updated_at;
	written[5] = catalog.enrollment.paid_at;
	for (int i = 0; i < (int) lengthof(written); i++)
		written_columns = bms_add_member(written_columns,
										 written[i] - FirstLowInvalidHeapAttributeNumber);
	AddToRangeTable(&range_table, enrollments, RowExclusiveLock,
					ACL_SELECT | ACL_UPDATE, written_columns);
	AddToRangeTable(&range_table, payments, RowExclusiveLock,
					ACL_SELECT | ACL_INSERT, NULL);
	AddToRangeTable(&range_table, tables->currencies, AccessShareLock,
					ACL_SELECT, NULL);
	InitCheckedRangeTable(estate, &range_table);
	tables->enrollments = OpenResultRelation(estate, enrollments, 1,
											 &enrollments_prepared);
	tables->payments = OpenResultRelation(estate, payments, 2,
										  &payments_prepared);
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
	InitEvalPlanQual(&tables->epqstate, estate);

	tables->created_by = SessionUserName();
	MemoryContextSwitchTo(oldcontext);

	tables->estate = estate;
	AfterTriggerBeginQuery();
}

/*
 * Fire the queued AFTER triggers and
 * close what OpenPaymentTables() opened.
 */
void
ClosePaymentTables(PaymentTables *tables)
{
	EState	   *estate = tables->estate;

	if (tables->by_sql)
	{
		SPI_finish();
		return;
	}
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
	if (tables->by_sql)
		return;					/* each statement does this */
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
	if (tables->by_sql)
		return;
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
	tables->estate->es_output_cid = GetCurrentCommandId(true);
}

void
EndPaymentStep(PaymentTables *tables)
{
	if (tables->by_sql)
		return;
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

	scan = BeginIndexScan(rel, index, snapshot, nkeys);
	index_rescan(scan, scankeys, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	return found;
}
