/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Saved SPI plans for the SQL statements of enroll(),
 *	  import_enrollment() and history(); payments do not use SQL
 *	  (relations.c).
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
 * Run a saved plan with the given parameters (nulls as for
 * SPI_execute_plan; NULL for none) and return the number of rows it
 * processed.  A SELECT runs read-only, with the caller's snapshot, as a
 * STABLE function's query must.  Any result other than expected_result is
 * an internal error.
 */
int
ExecuteSavedPlan(SPIPlanPtr plan, Datum *values, const char *nulls,
				 int expected_result)
{
	int			rc = SPI_execute_plan(plan, values, nulls,
									  expected_result == SPI_OK_SELECT, 0);

	if (rc != expected_result)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}
