/*-------------------------------------------------------------------------
 *
 * arguments.c
 *	  Fetching and checking the SQL arguments of the extension's functions.
 *
 * The functions are not STRICT: a NULL where a value is required is an
 * error (22004), never a NULL result.  Identifiers (user and course ids,
 * idempotency keys) are 1 to 255 characters, with no control characters
 * (C0, DEL, and C1 in UTF-8 databases) and no leading or trailing ASCII
 * space (22E03).  A reason is free text of at most 1000 characters.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"

/*
 * Raise 22004 if argument argno is NULL.
 */
static void
RequireArgument(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
}

/*
 * Raise 22E03 unless value is a well-formed identifier.
 */
void
CheckIdentifier(text *value, const char *argname)
{
	const char *bytes = VARDATA_ANY(value);
	int			nbytes = VARSIZE_ANY_EXHDR(value);
	bool		is_utf8 = GetDatabaseEncoding() == PG_UTF8;
	int			nchars;

	if (nbytes == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_IDENTIFIER),
				 errmsg("%s must not be empty", argname)));

	nchars = pg_mbstrlen_with_len(bytes, nbytes);
	if (nchars > MAX_IDENTIFIER_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_IDENTIFIER),
				 errmsg("%s is too long", argname),
				 errdetail("It has %d characters; at most %d are allowed.",
						   nchars, MAX_IDENTIFIER_CHARS)));

	for (int i = 0; i < nbytes; i++)
	{
		unsigned char c = (unsigned char) bytes[i];

		/* C0 controls and DEL; in UTF-8, C1 controls are C2 80 to C2 9F */
		if (c < 0x20 || c == 0x7f ||
			(c == 0xc2 && i + 1 < nbytes && is_utf8 &&
			 (unsigned char) bytes[i + 1] >= 0x80 &&
			 (unsigned char) bytes[i + 1] <= 0x9f))
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_INVALID_IDENTIFIER),
					 errmsg("%s must not contain control characters", argname),
					 errdetail("A control character was found at byte %d.", i + 1)));
	}

	if (bytes[0] == ' ' || bytes[nbytes - 1] == ' ')
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_IDENTIFIER),
				 errmsg("%s must not start or end with a space", argname)));
}

/*
 * A required identifier argument.
 */
text *
IdentifierArgument(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	text	   *value;

	RequireArgument(fcinfo, argno, argname);
	value = PG_GETARG_TEXT_PP(argno);
	CheckIdentifier(value, argname);
	return value;
}

/*
 * An optional identifier argument: NULL when the caller gave none.
 */
text *
OptionalIdentifierArgument(FunctionCallInfo fcinfo, int argno,
						   const char *argname)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return IdentifierArgument(fcinfo, argno, argname);
}

/*
 * A required numeric argument (its value is checked by money.c).
 */
Numeric
NumericArgument(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	RequireArgument(fcinfo, argno, argname);
	return PG_GETARG_NUMERIC(argno);
}

/*
 * A required text argument, as a C string.
 */
char *
TextArgumentCString(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	RequireArgument(fcinfo, argno, argname);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * The optional reason of a refund, cancellation or price change: free
 * text of at most MAX_REASON_CHARS characters, or NULL (22E03 if longer).
 */
text *
ReasonArgument(FunctionCallInfo fcinfo, int argno)
{
	text	   *reason;
	int			nchars;

	if (PG_ARGISNULL(argno))
		return NULL;
	reason = PG_GETARG_TEXT_PP(argno);
	nchars = pg_mbstrlen_with_len(VARDATA_ANY(reason), VARSIZE_ANY_EXHDR(reason));
	if (nchars > MAX_REASON_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_IDENTIFIER),
				 errmsg("reason is too long"),
				 errdetail("It has %d characters; at most %d are allowed.",
						   nchars, MAX_REASON_CHARS)));
	return reason;
}
