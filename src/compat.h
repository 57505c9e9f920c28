/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The executor and catalog calls whose signatures differ between the
 *	  PostgreSQL majors the extension supports (15 to 18), each behind one
 *	  name of ours, so that the modules read the same on every major.
 *
 * Each shim says which major changed the call.  Where a newer major added
 * an argument, the shim passes what the older call meant.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENROLLMENT_COMPAT_H
#define ENROLLMENT_COMPAT_H

#include "access/genam.h"
#include "access/relation.h"
#include "catalog/dependency.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "utils/rel.h"

/* 17 added flush: false, the commit flushes a transactional message */
#if PG_VERSION_NUM >= 170000
#define WriteLogicalMessage(prefix, message, size, transactional) \
	LogLogicalMessage((prefix), (message), (size), (transactional), false)
#else
#define WriteLogicalMessage(prefix, message, size, transactional) \
	LogLogicalMessage((prefix), (message), (size), (transactional))
#endif

/* 18 replaced pg_attribute_noreturn(), after the declaration, by this */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* 16 added onlySummarizing: false, every index gets the new tuple */
#if PG_VERSION_NUM >= 160000
#define InsertIndexEntries(rri, slot, estate, noDupErr, specConflict, arbiter) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, (noDupErr), \
						  (specConflict), (arbiter), false)
#else
#define InsertIndexEntries(rri, slot, estate, noDupErr, specConflict, arbiter) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, (noDupErr), \
						  (specConflict), (arbiter))
#endif

/* 18 added the tuple being updated, if any: none, this is an insertion */
#if PG_VERSION_NUM >= 180000
#define CheckUniqueIndexes(rri, slot, estate, conflictTid, arbiter) \
	ExecCheckIndexConstraints((rri), (slot), (estate), (conflictTid), NULL, \
							  (arbiter))
#else
#define CheckUniqueIndexes(rri, slot, estate, conflictTid, arbiter) \
	ExecCheckIndexConstraints((rri), (slot), (estate), (conflictTid), (arbiter))
#endif

/* 18 renamed the prepared CHECK constraints of a result relation */
#if PG_VERSION_NUM >= 180000
#define SetCheckConstraintStates(rri, checks) \
	((rri)->ri_CheckConstraintExprs = (checks))
#else
#define SetCheckConstraintStates(rri, checks) \
	((rri)->ri_ConstraintExprs = (checks))
#endif

/* the sequence of an identity column; 17 takes the relation, not its OID */
static inline Oid
IdentitySequenceOf(Oid relid, AttrNumber attnum)
{
#if PG_VERSION_NUM >= 170000
	Relation	rel = relation_open(relid, AccessShareLock);
	Oid			sequence = getIdentitySequence(rel, attnum, false);

	relation_close(rel, AccessShareLock);
	return sequence;
#else
	return getIdentitySequence(relid, attnum, false);
#endif
}

/* 18 added instrumentation of index scans: none */
#if PG_VERSION_NUM >= 180000
#define BeginIndexScan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), 0)
#else
#define BeginIndexScan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), 0)
#endif

/* 16 added the result relations EvalPlanQual may recheck: none are */
#if PG_VERSION_NUM >= 160000
#define InitEvalPlanQual(epqstate, estate) \
	EvalPlanQualInit((epqstate), (estate), NULL, NIL, -1, NIL)
#else
#define InitEvalPlanQual(epqstate, estate) \
	EvalPlanQualInit((epqstate), (estate), NULL, NIL, -1)
#endif

/*
 * A range table for an EState, with the privileges each relation needs.
 * 16 moved the privileges out of the range table entries into a list of
 * their own (RTEPermissionInfo); 18 also wants to know which entries
 * survived pruning: all of ours.
 */
typedef struct RangeTable
{
	List	   *entries;		/* of RangeTblEntry */
	List	   *permissions;	/* of RTEPermissionInfo, 16 and later */
} RangeTable;

/*
 * Append rel to range_table, asking for privileges on it and, if it is
 * updated, the columns in updated_columns (offset by
 * FirstLowInvalidHeapAttributeNumber, as the executor wants them).
 */
static inline void
AddToRangeTable(RangeTable *range_table, Relation rel, LOCKMODE lockmode,
				AclMode privileges, Bitmapset *updated_columns)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = lockmode;
#if PG_VERSION_NUM >= 160000
	{
		RTEPermissionInfo *perminfo = makeNode(RTEPermissionInfo);

		perminfo->relid = rte->relid;
		perminfo->requiredPerms = privileges;
		perminfo->updatedCols = updated_columns;
		range_table->permissions = lappend(range_table->permissions, perminfo);
		rte->perminfoindex = list_length(range_table->permissions);
	}
#else
	rte->requiredPerms = privileges;
	rte->updatedCols = updated_columns;
#endif
	range_table->entries = lappend(range_table->entries, rte);
}

/*
 * Check the current user's privileges on every relation of range_table
 * (an error if one is missing) and make it the range table of estate.
 */
static inline void
InitCheckedRangeTable(EState *estate, RangeTable *range_table)
{
#if PG_VERSION_NUM >= 180000
	ExecCheckPermissions(range_table->entries, range_table->permissions, true);
	ExecInitRangeTable(estate, range_table->entries, range_table->permissions,
					   bms_add_range(NULL, 1, list_length(range_table->entries)));
#elif PG_VERSION_NUM >= 160000
	ExecCheckPermissions(range_table->entries, range_table->permissions, true);
	ExecInitRangeTable(estate, range_table->entries, range_table->permissions);
#else
	ExecCheckRTPerms(range_table->entries, true);
	ExecInitRangeTable(estate, range_table->entries);
#endif
}

#endif							/* ENROLLMENT_COMPAT_H */
