/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  apply_payments(): many payments in one call and one transaction.
 *
 * The batch is a JSON array of objects {"user_id", "course_id", "amount",
 * "idempotency_key"}.  Every item is checked before any row is locked.  The
 * items are then applied in the order of their enrollment (user_id, then
 * course_id, compared bytewise, then input position): concurrent batches
 * lock rows in the same order and so cannot deadlock each other, and the
 * payments to one enrollment are applied in input order, as one run: one
 * lock, one update of the enrollment, one ledger row each.  A refused item
 * aborts the whole batch, with an error CONTEXT naming it; the results
 * come back in input order.
 *
 *-------------------------------------------------------------------------
 */
#include "enrollment.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

/* the largest number of payments in one batch */
#define MAX_BATCH_PAYMENTS 10000

typedef struct BatchItem
{
	int			index;			/* position in the input array, from 0 */
	PaymentRequest request;
	HeapTuple	result;			/* its payment_result, once applied */
} BatchItem;

/*
 * Error context callback: name the batch item being worked on, if any.
 */
static void
BatchItemErrorCallback(void *arg)
{
	const BatchItem *item = *(const BatchItem **) arg;

	if (item == NULL)
		return;
	if (item->request.user_id != NULL && item->request.course_id != NULL)
		errcontext("payments[%d] of the batch (user_id \"%s\", course_id \"%s\")",
				   item->index,
				   text_to_cstring(item->request.user_id),
				   text_to_cstring(item->request.course_id));
	else
		errcontext("payments[%d] of the batch", item->index);
}

/*
 * Raise 22E04 if a batch item has a key other than the four it may have.
 */
static void
CheckBatchItemKeys(JsonbContainer *object)
{
	static const char *const known[] = {
		"user_id", "course_id", "amount", "idempotency_key"
	};
	JsonbIterator *iterator = JsonbIteratorInit(object);
	JsonbValue	value;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&iterator, &value, true)) != WJB_DONE)
	{
		bool		is_known = false;

		if (token != WJB_KEY)
			continue;
		for (int i = 0; i < (int) lengthof(known); i++)
		{
			if (value.val.string.len == (int) strlen(known[i]) &&
				memcmp(value.val.string.val, known[i], value.val.string.len) == 0)
				is_known = true;
		}
		if (!is_known)
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_INVALID_BATCH),
					 errmsg("unknown key \"%s\" in a payment of the batch",
							pnstrdup(value.val.string.val, value.val.string.len)),
					 errhint("A payment has the keys user_id, course_id, amount and, optionally, idempotency_key.")));
	}
}

/*
 * The value of key in a batch item, of the given JSON type; NULL if it is
 * absent or null and not required.
 */
static JsonbValue *
BatchItemField(JsonbContainer *object, const char *key,
			   enum jbvType type, bool required)
{
	JsonbValue *value = getKeyJsonValueFromContainer(object, key, strlen(key),
													 NULL);

	if (value == NULL || value->type == jbvNull)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_ENROLLMENT_INVALID_BATCH),
					 errmsg("a payment of the batch has no %s", key)));
		return NULL;
	}
	if (value->type != type)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_BATCH),
				 errmsg("%s must be a JSON %s", key,
						type == jbvString ? "string" : "number"),
				 type == jbvNumeric ?
				 errhint("Send amounts as JSON numbers, such as 49.99: jsonb keeps them exact.") : 0));
	return value;
}

static text *
BatchItemText(JsonbContainer *object, const char *key, bool required)
{
	JsonbValue *value = BatchItemField(object, key, jbvString, required);
	text	   *result;

	if (value == NULL)
		return NULL;
	result = cstring_to_text_with_len(value->val.string.val,
									  value->val.string.len);
	CheckIdentifier(result, key);
	return result;
}

/*
 * Read and check one element of the batch into *item.
 */
static void
ParseBatchItem(JsonbValue *element, BatchItem *item)
{
	JsonbContainer *object;

	if (element->type != jbvBinary ||
		!JsonContainerIsObject(element->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_BATCH),
				 errmsg("each payment of the batch must be a JSON object")));
	object = element->val.binary.data;

	CheckBatchItemKeys(object);
	item->request.kind = EVENT_PAYMENT;
	item->request.reason = NULL;
	item->request.user_id = BatchItemText(object, "user_id", true);
	item->request.course_id = BatchItemText(object, "course_id", true);
	item->request.amount =
		BatchItemField(object, "amount", jbvNumeric, true)->val.numeric;
	item->request.amount_argname = "amount";
	item->request.idempotency_key = BatchItemText(object, "idempotency_key",
												  false);
	item->request.pay_remaining = false;
	CheckPaymentRequest(&item->request);
}

static int
CompareText(const text *a, const text *b)
{
	int			alen = VARSIZE_ANY_EXHDR(a);
	int			blen = VARSIZE_ANY_EXHDR(b);
	int			cmp = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(alen, blen));

	if (cmp != 0)
		return cmp;
	return (alen > blen) - (alen < blen);
}

static bool
SameEnrollment(const PaymentRequest *a, const PaymentRequest *b)
{
	return CompareText(a->user_id, b->user_id) == 0 &&
		CompareText(a->course_id, b->course_id) == 0;
}

/*
 * qsort comparator: the order in which batch items lock their rows.
 */
static int
CompareBatchItems(const void *a, const void *b)
{
	const BatchItem *x = *(const BatchItem *const *) a;
	const BatchItem *y = *(const BatchItem *const *) b;
	int			cmp;

	cmp = CompareText(x->request.user_id, y->request.user_id);
	if (cmp == 0)
		cmp = CompareText(x->request.course_id, y->request.course_id);
	if (cmp == 0)
		cmp = (x->index > y->index) - (x->index < y->index);
	return cmp;
}

/*
 * apply_payments(payments jsonb): apply every payment of the batch, or
 * none; one payment_result per payment, in input order.
 */
PG_FUNCTION_INFO_V1(apply_payments);

Datum
apply_payments(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *batch;
	int			count;
	BatchItem  *items;
	BatchItem **lock_order;
	BatchItem  *current = NULL;
	ErrorContextCallback errcallback;
	PaymentTables tables;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payments must not be null")));
	batch = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(batch) || JB_ROOT_IS_SCALAR(batch))
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_BATCH),
				 errmsg("payments must be a JSON array")));
	count = JB_ROOT_COUNT(batch);
	if (count > MAX_BATCH_PAYMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_ENROLLMENT_INVALID_BATCH),
				 errmsg("too many payments in one batch"),
				 errdetail("The batch has %d payments; at most %d are allowed.",
						   count, MAX_BATCH_PAYMENTS)));

	InitMaterializedSRF(fcinfo, 0);

	errcallback.callback = BatchItemErrorCallback;
	errcallback.arg = &current;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	/* check every item before locking anything */
	items = palloc0(Max(count, 1) * sizeof(BatchItem));
	lock_order = palloc(Max(count, 1) * sizeof(BatchItem *));
	for (int i = 0; i < count; i++)
	{
		current = &items[i];
		current->index = i;
		ParseBatchItem(getIthJsonbValueFromContainer(&batch->root, i), current);
		lock_order[i] = current;
	}
	current = NULL;

	qsort(lock_order, count, sizeof(BatchItem *), CompareBatchItems);

	/* one run per enrollment: one lock, one update, a ledger row each */
	OpenPaymentTables(&tables);
	for (int i = 0; i < count; i++)
	{
		LockedEnrollment enrollment;
		LedgerEntry entry;
		int			first = i;

		CHECK_FOR_INTERRUPTS();
		current = lock_order[first];
		BeginEnrollmentRun(&tables, current->request.user_id,
						   current->request.course_id, &enrollment);
		for (;;)
		{
			ApplyPaymentToLocked(&tables, &enrollment, &current->request, &entry);
			current->result = heap_form_tuple(rsinfo->setDesc, entry.values,
											  entry.nulls);
			if (i + 1 == count ||
				!SameEnrollment(&lock_order[first]->request,
								&lock_order[i + 1]->request))
				break;
			current = lock_order[++i];
		}
		EndEnrollmentRun(&tables, &enrollment);
	}
	current = NULL;
	ClosePaymentTables(&tables);

	error_context_stack = errcallback.previous;

	for (int i = 0; i < count; i++)
		tuplestore_puttuple(rsinfo->setResult, items[i].result);

	return (Datum) 0;
}
