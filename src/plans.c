/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Saved SPI plans for the SQL statements of enroll(),
 *	  import_enrollment() and history(), and of payments when they go
 *	  through SQL (enrollment.table_access, relations.c).
 *
 * Each statement is parsed and planned once per backend, on first use, and
 * kept with SPI_keepplan(); PostgreSQL's plan cache replans it after DDL on
 * the tables it reads.  Besides relations.c's catalog cache, these plans
 * are the only state the extension keeps beyond a transaction, on purpose.
 * Every name in the statements is
 * schema-qualified and every operator is OPERATOR(pg_catalog.x), so they
 * mean the same whatever the search_path.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "utils/plancache.h"

/*
 * Connect to SPI, or fail.
 */
void
ConnectSPI(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/*
 * The saved plan in *cache, prepared on first use.  Needs an SPI
 * connection.
 */
SPIPlanPtr
SavedPlan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * Remove the line naming the statement from an error's context.  Its
 * text is ours, not the caller's: an error reads the same whichever way
 * the extension reaches its tables.  Lines that triggers or callers
 * added stay.
 */
static void
RemoveStatementContext(ErrorData *edata, const char *statement)
{
	char	   *quoted;
	char	   *found;
	char	   *line_start;
	char	   *line_end;

	if (edata->context == NULL)
		return;
	quoted = psprintf("\"%s\"", statement);
	found = strstr(edata->context, quoted);
	pfree(quoted);
	if (found == NULL)
		return;

	line_start = found;
	while (line_start > edata->context && line_start[-1] != '\n')
		line_start--;
	line_end = strchr(found, '\n');
	if (line_end == NULL)
	{
		/* the last line: drop it with the newline before it */
		if (line_start > edata->context)
			line_start--;
		*line_start = '\0';
	}
	else
		memmove(line_start, line_end + 1, strlen(line_end + 1) + 1);
	if (edata->context[0] == '\0')
		edata->context = NULL;
}

/*
 * Run a saved plan with the given parameters (nulls as for
 * SPI_execute_plan; NULL for none) and return the number of rows it
 * processed, leaving the caller's memory context current.  read_only runs
 * it with the caller's snapshot, as a STABLE function's query must;
 * otherwise it sees what earlier statements of the transaction wrote and,
 * under READ COMMITTED, takes a new snapshot.  Any result other than
 * expected_result is an internal error.
 */
int
ExecuteSavedPlan(SPIPlanPtr plan, Datum *values, const char *nulls,
				 bool read_only, int expected_result)
{
	MemoryContext caller = CurrentMemoryContext;
	int			rc = 0;

	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, nulls, read_only, 0);
	}
	PG_CATCH();
	{
		CachedPlanSource *source = linitial(SPI_plan_get_plan_sources(plan));
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RemoveStatementContext(edata, source->query_string);
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);	/* SPI left its own current */

	if (rc != expected_result)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}
