/*-------------------------------------------------------------------------
 *
 * enrollment.h
 *	  Declarations shared by the modules of the enrollment extension.
 *
 * Money travels between modules as int64 counts of the currency's minor
 * unit (cents for USD, yen for JPY); it is numeric only at the SQL
 * boundary.  No floating point is used anywhere.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ENROLLMENT_H
#define ENROLLMENT_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/execnodes.h"
#include "fmgr.h"
#include "utils/numeric.h"

#include "compat.h"

/*
 * SQLSTATEs of the extension's own errors.  They are part of the API:
 * README.md lists them, and they never change once released.
 */
#define ERRCODE_ENROLLMENT_INVALID_AMOUNT		MAKE_SQLSTATE('2','2','E','0','1')
#define ERRCODE_ENROLLMENT_INVALID_CURRENCY		MAKE_SQLSTATE('2','2','E','0','2')
#define ERRCODE_ENROLLMENT_INVALID_IDENTIFIER	MAKE_SQLSTATE('2','2','E','0','3')
#define ERRCODE_ENROLLMENT_INVALID_BATCH		MAKE_SQLSTATE('2','2','E','0','4')
#define ERRCODE_ENROLLMENT_EXISTS				MAKE_SQLSTATE('2','3','E','0','1')
#define ERRCODE_ENROLLMENT_NOT_FOUND			MAKE_SQLSTATE('2','3','E','0','2')
#define ERRCODE_ENROLLMENT_OVERPAYMENT			MAKE_SQLSTATE('2','3','E','0','3')
#define ERRCODE_ENROLLMENT_KEY_REUSED			MAKE_SQLSTATE('2','3','E','0','4')
#define ERRCODE_ENROLLMENT_LEDGER_APPEND_ONLY	MAKE_SQLSTATE('2','3','E','0','5')
#define ERRCODE_ENROLLMENT_REFUND_EXCEEDS_PAID	MAKE_SQLSTATE('2','3','E','0','6')
#define ERRCODE_ENROLLMENT_PRICE_BELOW_PAID		MAKE_SQLSTATE('2','3','E','0','7')
#define ERRCODE_ENROLLMENT_ALREADY_PAID			MAKE_SQLSTATE('5','5','E','0','1')
#define ERRCODE_ENROLLMENT_EXPECTED_AMOUNT_MISMATCH MAKE_SQLSTATE('5','5','E','0','2')
#define ERRCODE_ENROLLMENT_CANCELLED			MAKE_SQLSTATE('5','5','E','0','3')
#define ERRCODE_ENROLLMENT_REFUNDED				MAKE_SQLSTATE('5','5','E','0','4')
#define ERRCODE_ENROLLMENT_NOTHING_PAID			MAKE_SQLSTATE('5','5','E','0','5')

/* arguments.c: SQL arguments */
#define MAX_IDENTIFIER_CHARS 255
#define MAX_REASON_CHARS 1000

extern void CheckIdentifier(text *value, const char *argname);
extern text *IdentifierArgument(FunctionCallInfo fcinfo, int argno,
								const char *argname);
extern text *OptionalIdentifierArgument(FunctionCallInfo fcinfo, int argno,
										const char *argname);
extern Numeric NumericArgument(FunctionCallInfo fcinfo, int argno,
							   const char *argname);
extern char *TextArgumentCString(FunctionCallInfo fcinfo, int argno,
								 const char *argname);
extern text *ReasonArgument(FunctionCallInfo fcinfo, int argno);

/* money.c: exact amounts and currencies */
#define MAX_AMOUNT_MAJOR_UNITS	INT64CONST(1000000000000)

typedef struct Currency
{
	char		code[4];		/* ISO 4217 code, NUL-terminated */
	int			minor_unit;		/* decimal places, 0 to 4 */
} Currency;

extern void CheckAmount(Numeric amount, const char *argname, bool zero_allowed);
extern bool AmountFitsCurrency(Numeric amount, const Currency *currency);
extern int64 AmountToMinorUnits(Numeric amount, const Currency *currency,
								const char *argname);
extern int64 StoredAmountToMinorUnits(Numeric amount, const Currency *currency,
									  const char *column);
extern Numeric MinorUnitsToNumeric(int64 minor_units, const Currency *currency);
extern char *FormatMoney(int64 minor_units, const Currency *currency);
extern void LookupCurrency(const char *code, Currency *currency);
extern void InitCurrency(Currency *currency, const char *code, int minor_unit);

/* status.c: the status of an enrollment and the transitions it allows */
typedef enum EnrollmentStatus
{
	ENROLLMENT_PENDING,
	ENROLLMENT_PARTIAL,
	ENROLLMENT_PAID,
	ENROLLMENT_CANCELLED,		/* from version 1.1 */
	ENROLLMENT_REFUNDED			/* from version 1.1 */
} EnrollmentStatus;

#define NUM_ENROLLMENT_STATUSES (ENROLLMENT_REFUNDED + 1)

/* What happens to an enrollment: the kinds of ledger rows. */
typedef enum EventKind
{
	EVENT_PAYMENT,
	EVENT_REFUND,				/* the others are from version 1.1 */
	EVENT_CANCEL,
	EVENT_PRICE_CHANGE,
	EVENT_IMPORT
} EventKind;

#define NUM_EVENT_KINDS (EVENT_IMPORT + 1)

/*
 * The labels of one of our enum types as pg_enum OIDs, indexed by the C
 * enum above; InvalidOid for a label the installed version lacks.
 */
#define MAX_ENUM_LABELS 5

typedef struct EnumValues
{
	Oid			type;
	int			count;
	Oid			oids[MAX_ENUM_LABELS];
	uint32		uncommitted;	/* bit i: label i was added by this
								 * transaction */
} EnumValues;

StaticAssertDecl(NUM_ENROLLMENT_STATUSES <= MAX_ENUM_LABELS &&
				 NUM_EVENT_KINDS <= MAX_ENUM_LABELS,
				 "MAX_ENUM_LABELS is too small");

extern EnrollmentStatus StatusForAmounts(int64 amount_paid, int64 amount_due);
extern EnrollmentStatus StatusAfterEvent(EventKind kind,
										 EnrollmentStatus before,
										 int64 amount_paid, int64 amount_due);
extern const char *StatusLabel(EnrollmentStatus status);
extern const char *EventKindLabel(EventKind kind);
extern int	EnumIndex(const EnumValues *values, Datum value, bool isnull,
					  const char *what);
extern Oid	EnumValueOf(const EnumValues *values, int index, const char *label);
extern bool StatusAllowsEvent(EventKind kind, EnrollmentStatus status);
extern void CheckStatusAllowsEvent(EventKind kind, EnrollmentStatus status,
								   text *user_id, text *course_id);

/* plans.c: saved SPI plans */
extern void ConnectSPI(void);
extern SPIPlanPtr SavedPlan(SPIPlanPtr *cache, const char *sql,
							int nargs, Oid *argtypes);
extern int	ExecuteSavedPlan(SPIPlanPtr plan, Datum *values, const char *nulls,
							 bool read_only, int expected_result);

/*
 * relations.c: the tables, opened for direct access, or reached through
 * SQL statements (enrollment.table_access)
 */

/* What the payment path needs to know of the catalogs. */
typedef struct EnrollmentCatalog
{
	Oid			enrollments;
	Oid			enrollments_pkey;
	Oid			payments;
	Oid			payments_key_index;
	Oid			payment_id_sequence;
	Oid			currencies;
	Oid			currencies_pkey;
	EnumValues	status_values;
	EnumValues	event_kind_values;	/* all InvalidOid in 1.0 */
	struct
	{
		AttrNumber	user_id,
					course_id,
					currency,
					price,
					amount_paid,
					amount_due,
					status,
					updated_at,
					paid_at;
	}			enrollment;		/* column numbers in enrollments */
	struct
	{
		AttrNumber	payment_id,
					user_id,
					course_id,
					amount,
					idempotency_key,
					amount_paid_after,
					amount_due_after,
					status_after,
					created_at,
					created_by,
					kind,		/* InvalidAttrNumber in version 1.0 */
					reason;		/* InvalidAttrNumber in version 1.0 */
	}			payment;		/* column numbers in payments */
	AttrNumber	currency_minor_unit;
} EnrollmentCatalog;

/*
 * The defaults of the ledger's columns that the extension does not write
 * (columns a DBA added), which an INSERT would fill in.
 */
typedef struct ColumnDefaults
{
	int			count;
	AttrNumber *columns;
	ExprState **exprs;
} ColumnDefaults;

/* The tables as opened for one call of a payment function. */
typedef struct PaymentTables
{
	EnrollmentCatalog catalog;
	EState	   *estate;
	ResultRelInfo *enrollments;
	ResultRelInfo *payments;
	Relation	enrollments_pkey;
	Relation	payments_key_index;
	Relation	currencies;
	Relation	currencies_pkey;
	TupleTableSlot *enrollment_slot;	/* the locked enrollment */
	TupleTableSlot *new_enrollment_slot;
	TupleTableSlot *payment_slot;	/* a ledger row found by key */
	TupleTableSlot *new_payment_slot;
	TupleTableSlot *currency_slot;
	EPQState	epqstate;
	Datum		created_by;		/* session user, as name */
	ColumnDefaults ledger_defaults;
	bool		by_sql;			/* through SQL statements: nothing above is
								 * open but the catalog and created_by */
	bool		on_citus;		/* by_sql, and the citus extension is
								 * installed */
	HeapTuple	updated_row;	/* by_sql: the enrollment as last updated */
	TupleDesc	updated_row_desc;
} PaymentTables;

extern void DefineTableAccessSetting(void);

extern void OpenPaymentTables(PaymentTables *tables);
extern void ClosePaymentTables(PaymentTables *tables);
extern void BeginPaymentStep(PaymentTables *tables);
extern void RefreshPaymentSnapshot(PaymentTables *tables);
extern void NextPaymentCommand(PaymentTables *tables);
extern void EndPaymentStep(PaymentTables *tables);
extern bool FindRowByTextKey(Relation rel, Relation index, Snapshot snapshot,
							 int nkeys, Datum *keys, TupleTableSlot *slot);

/* locking.c: the locked enrollment row */
typedef struct LockedEnrollment
{
	Currency	currency;
	int64		price;
	int64		amount_paid;
	int64		amount_due;
	EnrollmentStatus status;
	bool		price_changed;
	/* kept by payment.c during a run of payments */
	bool		changed;		/* amounts to write back */
	bool		first_payment;	/* no payment of the run applied yet */
	TimestampTz updated_at;		/* time of the last payment */
	text	   *user_id;		/* the key, as LockEnrollment was given it */
	text	   *course_id;
} LockedEnrollment;

extern void LockEnrollment(PaymentTables *tables, text *user_id,
						   text *course_id, LockedEnrollment *enrollment);
extern void StoreEnrollmentAmounts(PaymentTables *tables,
								   const LockedEnrollment *enrollment,
								   TimestampTz updated_at);

/* ledger.c: the append-only payment ledger */

/*
 * A ledger row as the columns of an enrollment.payment_result, new or
 * replayed.  By-reference values point into the tables' slots: build the
 * result before the next payment.
 */
#define RESULT_PAYMENT_ID	0
#define RESULT_USER_ID		1
#define RESULT_COURSE_ID	2
#define RESULT_AMOUNT		3
#define RESULT_AMOUNT_PAID	4
#define RESULT_AMOUNT_DUE	5
#define RESULT_STATUS		6
#define RESULT_REPLAYED		7
#define RESULT_CREATED_AT	8
#define PAYMENT_RESULT_NATTS 9

typedef struct LedgerEntry
{
	Datum		values[PAYMENT_RESULT_NATTS];
	bool		nulls[PAYMENT_RESULT_NATTS];
	EventKind	kind;
} LedgerEntry;

typedef struct NewPayment
{
	EventKind	kind;
	text	   *user_id;
	text	   *course_id;
	text	   *idempotency_key;	/* NULL when none */
	text	   *reason;			/* NULL when none */
	const Currency *currency;
	int64		amount;			/* the change to amount_paid */
	int64		amount_paid_after;
	int64		amount_due_after;
	EnrollmentStatus status_after;
	TimestampTz created_at;
} NewPayment;

extern bool LedgerFindKey(PaymentTables *tables, text *user_id,
						  text *idempotency_key, LedgerEntry *entry);
extern bool LedgerAppend(PaymentTables *tables, const NewPayment *payment,
						 LedgerEntry *entry);

/* payment.c: one event (a payment, a refund, ...) under the row lock */

/* What a call asks for. */
typedef struct PaymentRequest
{
	EventKind	kind;
	text	   *user_id;
	text	   *course_id;
	text	   *idempotency_key;	/* NULL when none */
	text	   *reason;			/* NULL when none */
	bool		pay_remaining;	/* pay whatever is due, not a given amount */
	Numeric		amount;			/* the amount paid or refunded, the expected
								 * amount due (NULL if not given), the new
								 * price, or the amount paid imported */
	const char *amount_argname;
} PaymentRequest;

extern void CheckPaymentRequest(const PaymentRequest *request);
extern void BeginEnrollmentRun(PaymentTables *tables, text *user_id,
							   text *course_id, LockedEnrollment *enrollment);
extern void ApplyPaymentToLocked(PaymentTables *tables,
								 LockedEnrollment *enrollment,
								 const PaymentRequest *request,
								 LedgerEntry *entry);
extern void EndEnrollmentRun(PaymentTables *tables,
							 LockedEnrollment *enrollment);
extern void ApplyPaymentRequest(PaymentTables *tables,
								const PaymentRequest *request,
								LedgerEntry *entry);

/* events.c: the change event of each ledger row, in the WAL or by NOTIFY */
extern void DefineEventSettings(void);
extern void SendEvent(PaymentTables *tables, const NewPayment *payment,
					  EnrollmentStatus previous_status,
					  const LedgerEntry *entry);

#endif							/* ENROLLMENT_H */
