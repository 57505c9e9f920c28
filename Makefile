# Makefile for the enrollment extension (PGXS)

EXTENSION = enrollment
MODULE_big = enrollment
OBJS = \
	src/arguments.o \
	src/batch.o \
	src/enrollment.o \
	src/events.o \
	src/ledger.o \
	src/locking.o \
	src/money.o \
	src/payment.o \
	src/plans.o \
	src/relations.o \
	src/status.o
DATA = $(wildcard src/enrollment--*.sql)
PGFILEDESC = "enrollment - exact, row-locked course enrollment payments"

# pg_regress: sql/NAME.sql runs and is compared with expected/NAME.out;
# install comes first, the others rely on what it creates; ledger ends by
# dropping the extension, catalog_changes installs it again, upgrade
# installs version 1.0 and updates it
REGRESS = install enroll apply_payment pay_remaining_balance idempotency \
	apply_payments currencies errors bad_input lifecycle import ledger \
	catalog_changes upgrade

# isolation tester: test/isolation/specs/NAME.spec against
# test/isolation/expected/NAME.out
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): src/enrollment.h
