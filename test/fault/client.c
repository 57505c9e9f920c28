/*-------------------------------------------------------------------------
 *
 * client.c
 *	  The payment client of the fault tests: concurrent clients pay with
 *	  unique idempotency keys, retry through faults, and log every call.
 *
 * Each client is a thread with its own connection.  It calls
 * enrollment.apply_payment() on a few hot enrollments (hot-1 .. hot-H,
 * small instalments towards a large price) and on many spread ones
 * (user-1 .. user-S), where one call in twenty is
 * enrollment.pay_remaining_balance() and one in ten
 * enrollment.refund_payment() instead; every call has a key of its own.  A call is sent again, with the same key, after an exponential
 * backoff with full jitter, when the server answers with a retryable
 * SQLSTATE or the connection is lost (then the client reconnects).  A
 * call whose connection broke after it was sent is uncertain: it may or
 * may not have committed, until a retry with its key answers.  So is a
 * call answered with a connection exception (class 08): a Citus
 * coordinator lost the worker that ran it.
 *
 * Every call ends as one line of the log, tab-separated, \N for null,
 * ready for COPY:
 *
 *	key kind user_id course_id amount outcome sqlstate
 *	payment_id paid amount_paid amount_due status replayed
 *	attempts uncertain server
 *
 * kind is "apply", "remaining" or "refund"; outcome is "ok" (the result's columns
 * follow), "refused" (a final SQLSTATE) or "unknown" (no answer before
 * the retry time was over); server is the port of the server that
 * answered.
 *
 * With -r, the calls to make are read from standard input, as lines of a
 * log (its unknown calls), and sent again with their keys.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#define APPLICATION_NAME "enrollment-fault-client"
#define FIELD_SIZE 256
#define LOG_FIELDS 16
#define LOG_NULL "\\N"

/* answers after which the same call is sent again */
static const char *const retryable_sqlstates[] = {
	"40001",					/* serialization_failure */
	"40P01",					/* deadlock_detected */
	"55P03",					/* lock_not_available */
	"57P01",					/* admin_shutdown: terminated, or shutdown */
	"57P02",					/* crash_shutdown: another backend crashed */
	"57P03",					/* cannot_connect_now: starting, recovering */
	NULL
};

typedef struct Options
{
	const char *conninfo;
	const char *log_path;
	int			clients;
	long		calls;			/* per client; 0: until the duration ends */
	double		duration;		/* seconds; 0: until the calls are made */
	int			hot;			/* hot enrollments */
	int			spread;			/* spread enrollments */
	double		retry_seconds;	/* how long one call is retried */
	unsigned	seed;
	bool		resolve;		/* send again the calls read from stdin */
} Options;

typedef struct Call
{
	char		key[FIELD_SIZE];
	char		kind[FIELD_SIZE];	/* "apply", "remaining" or "refund" */
	char		user_id[FIELD_SIZE];
	char		course_id[FIELD_SIZE];
	char		amount[FIELD_SIZE]; /* paid or refunded; "" for remaining */
	int			attempts;
	bool		uncertain;		/* an attempt lost its connection */
} Call;

typedef struct Client
{
	int			id;
	pthread_t	thread;
	PGconn	   *conn;
	uint64_t	random_state;
} Client;

static Options options = {
	.clients = 8,
	.hot = 4,
	.spread = 2000,
	.retry_seconds = 30,
	.seed = 1,
};
static FILE *log_file;
static double stop_time;

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A pseudo-random number in [0, bound), from the client's own xorshift64*
 * generator.
 */
static uint32_t
RandomBelow(Client *client, uint32_t bound)
{
	uint64_t	x = client->random_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	client->random_state = x;
	return (uint32_t) ((x * UINT64_C(2685821657736338717)) >> 32) % bound;
}

static bool
IsRetryable(const char *sqlstate)
{
	for (int i = 0; retryable_sqlstates[i] != NULL; i++)
		if (strcmp(sqlstate, retryable_sqlstates[i]) == 0)
			return true;
	return false;
}

/* class 08: the server lost a connection of its own while running the call */
static bool
IsConnectionException(const char *sqlstate)
{
	return strncmp(sqlstate, "08", 2) == 0;
}

static void
Disconnect(Client *client)
{
	PQfinish(client->conn);
	client->conn = NULL;
}

/*
 * The warnings of backends that are terminated are expected: keep them out
 * of the output.
 */
static void
IgnoreNotice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/*
 * Make sure the client has a connection; false if the server cannot be
 * reached now.
 */
static bool
Connect(Client *client)
{
	static const char *const keywords[] = {
		"dbname", "application_name", NULL
	};
	const char *const values[] = {
		options.conninfo, APPLICATION_NAME, NULL
	};

	if (client->conn != NULL)
		return true;
	client->conn = PQconnectdbParams(keywords, values, 1);
	if (PQstatus(client->conn) == CONNECTION_OK)
	{
		PQsetNoticeProcessor(client->conn, IgnoreNotice, NULL);
		return true;
	}
	Disconnect(client);
	return false;
}

/*
 * Sleep before the next attempt: a random time up to 20 ms doubled after
 * every attempt, at most one second.
 */
static void
Backoff(Client *client, int attempt)
{
	uint32_t	ceiling_us = 10000u << (attempt < 7 ? attempt : 7);

	if (ceiling_us > 1000000)
		ceiling_us = 1000000;
	usleep(1 + RandomBelow(client, ceiling_us));
}

/*
 * Write the final outcome of a call; res is its result when it is ok.
 */
static void
LogCall(Client *client, const Call *call, const char *outcome,
		const char *sqlstate, const PGresult *res)
{
	flockfile(log_file);
	fprintf(log_file, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t",
			call->key, call->kind, call->user_id, call->course_id,
			call->amount[0] != '\0' ? call->amount : LOG_NULL,
			outcome, sqlstate != NULL ? sqlstate : LOG_NULL);
	for (int column = 0; column < 6; column++)
		fprintf(log_file, "%s\t",
				res != NULL && !PQgetisnull(res, 0, column) ?
				PQgetvalue(res, 0, column) : LOG_NULL);
	fprintf(log_file, "%d\t%s\t%s\n", call->attempts,
			call->uncertain ? "t" : "f",
			client->conn != NULL ? PQport(client->conn) : LOG_NULL);
	funlockfile(log_file);
}

/*
 * Send a call, again and again with the same key, until it has a final
 * answer or its retry time is over; then log its outcome.
 */
static void
MakeCall(Client *client, Call *call)
{
	static const char apply_sql[] =
		"SELECT payment_id, amount, amount_paid, amount_due, status, replayed"
		"  FROM enrollment.apply_payment($1, $2, $3, $4)";
	static const char remaining_sql[] =
		"SELECT payment_id, amount, amount_paid, amount_due, status, replayed"
		"  FROM enrollment.pay_remaining_balance($1, $2, $3)";
	static const char refund_sql[] =
		"SELECT payment_id, amount, amount_paid, amount_due, status, replayed"
		"  FROM enrollment.refund_payment($1, $2, $3, $4)";
	bool		remaining = strcmp(call->kind, "remaining") == 0;
	const char *sql = remaining ? remaining_sql :
		strcmp(call->kind, "refund") == 0 ? refund_sql : apply_sql;
	const char *params[4] = {call->user_id, call->course_id};
	double		give_up = Now() + options.retry_seconds;

	params[2] = remaining ? call->key : call->amount;
	params[3] = call->key;

	for (;;)
	{
		call->attempts++;
		if (Connect(client))
		{
			PGresult   *res;
			const char *sqlstate;

			res = PQexecParams(client->conn, sql, remaining ? 3 : 4, NULL,
							   params, NULL, NULL, 0);
			sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			{
				LogCall(client, call, "ok", NULL, res);
				PQclear(res);
				return;
			}
			if (PQstatus(client->conn) == CONNECTION_BAD || sqlstate == NULL)
			{
				/* sent, but no answer: it may or may not have committed */
				call->uncertain = true;
				Disconnect(client);
			}
			else if (IsConnectionException(sqlstate))
				call->uncertain = true;
			else if (!IsRetryable(sqlstate))
			{
				LogCall(client, call, "refused", sqlstate, NULL);
				PQclear(res);
				return;
			}
			PQclear(res);
		}
		if (Now() >= give_up)
		{
			LogCall(client, call, "unknown", NULL, NULL);
			return;
		}
		Backoff(client, call->attempts);
	}
}

/*
 * The n-th call of a client: a payment on a hot or a spread enrollment, or
 * a refund on a spread one.
 */
static void
NewCall(Client *client, long n, Call *call)
{
	uint32_t	cents;

	memset(call, 0, sizeof(*call));
	snprintf(call->key, sizeof(call->key), "key-%d-%ld", client->id, n);
	strcpy(call->course_id, "course");
	strcpy(call->kind, "apply");
	if (options.spread == 0 || (options.hot > 0 && RandomBelow(client, 2) == 0))
	{
		snprintf(call->user_id, sizeof(call->user_id), "hot-%u",
				 1 + RandomBelow(client, options.hot));
		cents = 1 + RandomBelow(client, 100);
	}
	else
	{
		snprintf(call->user_id, sizeof(call->user_id), "user-%u",
				 1 + RandomBelow(client, options.spread));
		cents = 1 + RandomBelow(client, 10000);
		switch (RandomBelow(client, 20))
		{
			case 0:
				strcpy(call->kind, "remaining");
				break;
			case 1:
			case 2:
				strcpy(call->kind, "refund");
				cents = 1 + RandomBelow(client, 5000);
				break;
		}
	}
	if (strcmp(call->kind, "remaining") != 0)
		snprintf(call->amount, sizeof(call->amount), "%u.%02u",
				 cents / 100, cents % 100);
}

static void *
RunClient(void *arg)
{
	Client	   *client = arg;

	for (long n = 1; options.calls == 0 || n <= options.calls; n++)
	{
		Call		call;

		if (options.duration > 0 && Now() >= stop_time)
			break;
		NewCall(client, n, &call);
		MakeCall(client, &call);
	}
	Disconnect(client);
	return NULL;
}

/*
 * Read a call from a line of a log; false at the end of the input.
 */
static bool
ReadCall(FILE *input, Call *call)
{
	char		line[LOG_FIELDS * FIELD_SIZE];
	char	   *fields[LOG_FIELDS];
	char	   *rest = line;
	int			nfields = 0;

	if (fgets(line, sizeof(line), input) == NULL)
		return false;
	line[strcspn(line, "\n")] = '\0';
	while (nfields < LOG_FIELDS && rest != NULL)
		fields[nfields++] = strsep(&rest, "\t");
	if (nfields != LOG_FIELDS)
	{
		fprintf(stderr, "client: not a line of a log: %s\n", line);
		exit(1);
	}

	memset(call, 0, sizeof(*call));
	snprintf(call->key, sizeof(call->key), "%s", fields[0]);
	snprintf(call->kind, sizeof(call->kind), "%s", fields[1]);
	snprintf(call->user_id, sizeof(call->user_id), "%s", fields[2]);
	snprintf(call->course_id, sizeof(call->course_id), "%s", fields[3]);
	if (strcmp(fields[4], LOG_NULL) != 0)
		snprintf(call->amount, sizeof(call->amount), "%s", fields[4]);
	call->attempts = atoi(fields[13]);
	call->uncertain = strcmp(fields[14], "t") == 0;
	return true;
}

static void
Usage(void)
{
	fprintf(stderr,
			"usage: client -c CONNINFO -o LOG [-j CLIENTS] [-n CALLS] [-d SECONDS]\n"
			"              [-H HOT] [-S SPREAD] [-w RETRY_SECONDS] [-s SEED] [-r]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	Client	   *clients;
	int			c;

	while ((c = getopt(argc, argv, "c:o:j:n:d:H:S:w:s:r")) != -1)
	{
		switch (c)
		{
			case 'c':
				options.conninfo = optarg;
				break;
			case 'o':
				options.log_path = optarg;
				break;
			case 'j':
				options.clients = atoi(optarg);
				break;
			case 'n':
				options.calls = atol(optarg);
				break;
			case 'd':
				options.duration = atof(optarg);
				break;
			case 'H':
				options.hot = atoi(optarg);
				break;
			case 'S':
				options.spread = atoi(optarg);
				break;
			case 'w':
				options.retry_seconds = atof(optarg);
				break;
			case 's':
				options.seed = (unsigned) strtoul(optarg, NULL, 10);
				break;
			case 'r':
				options.resolve = true;
				break;
			default:
				Usage();
		}
	}
	if (optind != argc || options.conninfo == NULL || options.log_path == NULL ||
		options.clients < 1 || options.hot + options.spread < 1 ||
		(!options.resolve && options.calls <= 0 && options.duration <= 0))
		Usage();
	if (!PQisthreadsafe())
	{
		fprintf(stderr, "client: libpq is not thread-safe\n");
		return 1;
	}
	if ((log_file = fopen(options.log_path, "w")) == NULL)
	{
		perror(options.log_path);
		return 1;
	}

	if (options.resolve)
		options.clients = 1;
	clients = calloc(options.clients, sizeof(Client));
	for (int i = 0; i < options.clients; i++)
	{
		clients[i].id = i + 1;
		clients[i].random_state = UINT64_C(0x9E3779B97F4A7C15) *
			((uint64_t) options.seed * 1000 + i + 1);
	}

	if (options.resolve)
	{
		Call		call;

		while (ReadCall(stdin, &call))
			MakeCall(&clients[0], &call);
		Disconnect(&clients[0]);
	}
	else
	{
		stop_time = Now() + options.duration;
		for (int i = 0; i < options.clients; i++)
			if (pthread_create(&clients[i].thread, NULL, RunClient, &clients[i]) != 0)
			{
				fprintf(stderr, "client: could not start a thread\n");
				return 1;
			}
		for (int i = 0; i < options.clients; i++)
			pthread_join(clients[i].thread, NULL);
	}

	if (fclose(log_file) != 0)
	{
		perror(options.log_path);
		return 1;
	}
	free(clients);
	return 0;
}
