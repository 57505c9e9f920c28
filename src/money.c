/*-------------------------------------------------------------------------
 *
 * money.c
 *	  Exact amounts: validation, conversion between numeric and minor
 *	  units, and the currency table.
 *
 * An amount is accepted only if it is finite, within range, and has no
 * more decimal places than its currency's minor unit; it is never rounded.
 * Inside the extension amounts are int64 counts of minor units, which holds
 * the largest accepted amount (MAX_AMOUNT_MAJOR_UNITS) at four decimals
 * with room to spare.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

/* 10^n for the minor units a currency may have (0 to 4) */
static const int64 PowersOfTen[] = {1, 10, 100, 1000, 10000};

#define MAX_MINOR_UNIT	((int) lengthof(PowersOfTen) - 1)

static int
NumericMinScale(Numeric value)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_min_scale,
											 NumericGetDatum(value)));
}

static int
NumericCompare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/*
 * Multiply a finite amount of at most minor_unit decimals and at most
 * MAX_AMOUNT_MAJOR_UNITS by 10^minor_unit: an exact integer.
 */
static int64
ScaleToMinorUnits(Numeric amount, int minor_unit)
{
	Numeric		scaled;

	scaled = numeric_mul_opt_error(amount,
								   int64_to_numeric(PowersOfTen[minor_unit]),
								   NULL);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8,
											 NumericGetDatum(scaled)));
}

/*
 * Raise 22E01 unless amount is finite, within range and greater than zero
 * (or zero, when zero_allowed).  Its decimals are checked against the
 * currency by AmountToMinorUnits.
 */
void
CheckAmount(Numeric amount, const char *argname, bool zero_allowed)
{
	int			sign;

	if (numeric_is_nan(amount) || numeric_is_inf(amount))
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_AMOUNT),
				 errmsg("%s must be a finite number", argname),
				 errdetail("The value given is %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(amount))))));

	sign = NumericCompare(amount, int64_to_numeric(0));
	if (sign < 0 || (sign == 0 && !zero_allowed))
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_AMOUNT),
				 zero_allowed ?
				 errmsg("%s must not be negative", argname) :
				 errmsg("%s must be greater than zero", argname),
				 errdetail("The value given is %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(amount))))));

	if (NumericCompare(amount, int64_to_numeric(MAX_AMOUNT_MAJOR_UNITS)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_AMOUNT),
				 errmsg("%s is larger than the largest accepted amount", argname),
				 errdetail("The largest accepted amount is " INT64_FORMAT ".",
						   MAX_AMOUNT_MAJOR_UNITS)));
}

/*
 * Has an amount that passed CheckAmount at most the decimals of currency?
 */
bool
AmountFitsCurrency(Numeric amount, const Currency *currency)
{
	return NumericMinScale(amount) <= currency->minor_unit;
}

/*
 * Convert an amount that passed CheckAmount to minor units of currency.
 * Raise 22E01 if it has more decimal places than the currency allows.
 */
int64
AmountToMinorUnits(Numeric amount, const Currency *currency,
				   const char *argname)
{
	int			decimals = NumericMinScale(amount);

	if (decimals > currency->minor_unit)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_AMOUNT),
				 errmsg("%s has more decimal places than %s allows",
						argname, currency->code),
				 errdetail("%s amounts have at most %d decimal places; %s has %d.",
						   currency->code, currency->minor_unit,
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(amount))),
						   decimals),
				 errhint("Amounts are never rounded: round in the application before calling.")));

	return ScaleToMinorUnits(amount, currency->minor_unit);
}

/*
 * Convert an amount read from an enrollment row to minor units.  The
 * table's constraints make this always succeed; a row changed behind the
 * extension's back gets an error rather than a wrong balance.
 */
int64
StoredAmountToMinorUnits(Numeric amount, const Currency *currency,
						 const char *column)
{
	if (numeric_is_nan(amount) || numeric_is_inf(amount) ||
		NumericMinScale(amount) > currency->minor_unit ||
		NumericCompare(amount, int64_to_numeric(0)) < 0 ||
		NumericCompare(amount, int64_to_numeric(MAX_AMOUNT_MAJOR_UNITS)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("enrollment has an invalid %s", column),
				 errdetail("The stored value is %s, which is not a valid %s amount.",
						   DatumGetCString(DirectFunctionCall1(numeric_out,
															   NumericGetDatum(amount))),
						   currency->code)));

	return ScaleToMinorUnits(amount, currency->minor_unit);
}

/*
 * An amount in minor units as numeric in major units, with exactly the
 * currency's number of decimal places (4999 USD cents -> 49.99).
 */
Numeric
MinorUnitsToNumeric(int64 minor_units, const Currency *currency)
{
	return int64_div_fast_to_numeric(minor_units, currency->minor_unit);
}

/*
 * An amount for messages: "49.99 USD".
 */
char *
FormatMoney(int64 minor_units, const Currency *currency)
{
	Numeric		value = MinorUnitsToNumeric(minor_units, currency);

	return psprintf("%s %s",
					DatumGetCString(DirectFunctionCall1(numeric_out,
														NumericGetDatum(value))),
					currency->code);
}

/*
 * Fill *currency from enrollment.currencies; raise 22E02 for an unknown
 * code.  Needs an SPI connection.
 */
void
LookupCurrency(const char *code, Currency *currency)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int16		minor_unit;

	SavedPlan(&plan,
			  "SELECT minor_unit FROM enrollment.currencies"
			  " WHERE code OPERATOR(pg_catalog.=) $1",
			  1, argtypes);
	values[0] = CStringGetTextDatum(code);
	if (ExecuteSavedPlan(plan, values, NULL, true, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_CURRENCY),
				 errmsg("unknown currency \"%s\"", code),
				 errhint("Use an ISO 4217 code in upper case, such as USD; "
						 "enrollment.currencies lists them.")));

	minor_unit = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	InitCurrency(currency, code, minor_unit);
}

/*
 * Fill *currency from a row of enrollment.currencies.
 */
void
InitCurrency(Currency *currency, const char *code, int minor_unit)
{
	if (strlen(code) != 3 || minor_unit < 0 || minor_unit > MAX_MINOR_UNIT)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("currency \"%s\" with minor unit %d is not supported",
						code, minor_unit)));

	strlcpy(currency->code, code, sizeof(currency->code));
	currency->minor_unit = minor_unit;
}
