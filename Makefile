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
DATA = src/enrollment--1.0.sql src/enrollment--1.0--1.1.sql src/enrollment--1.1--1.2.sql
DATA_built = src/enrollment--1.1.sql
PGFILEDESC = "enrollment - exact, row-locked course enrollment payments"

# pg_regress: sql/NAME.sql runs and is compared with expected/NAME.out;
# install comes first, the others rely on what it creates; ledger ends by
# dropping the extension, catalog_changes installs it again, upgrade
# installs version 1.0 and updates it, events_wal and event_slots read
# logical slots (the suite's server has wal_level = logical)
REGRESS = install enroll apply_payment pay_remaining_balance idempotency \
	apply_payments currencies errors bad_input lifecycle import ledger \
	catalog_changes upgrade events_wal event_slots

# isolation tester: test/isolation/specs/NAME.spec against
# test/isolation/expected/NAME.out
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): src/enrollment.h src/compat.h

# The install script of 1.1 is the 1.0 script followed by the update, with
# one change: payment_status is created with all its statuses.  Values that
# ALTER TYPE ... ADD VALUE adds cannot be used in the transaction that adds
# them, and CREATE EXTENSION inside a longer transaction (pg_restore -1)
# must be able to load rows that are cancelled or refunded.
src/enrollment--1.1.sql: src/enrollment--1.0.sql src/enrollment--1.0--1.1.sql
	{ echo "/* enrollment--1.1.sql: install script of the enrollment extension, version 1.1 */"; \
	  echo "/* Built by make from enrollment--1.0.sql and enrollment--1.0--1.1.sql: edit those. */"; \
	  sed -e 1d \
	      -e "s/^\(CREATE TYPE enrollment\.payment_status AS ENUM ('pending', 'partial', 'paid'\));\$$/\1, 'cancelled', 'refunded');/" \
	      src/enrollment--1.0.sql; \
	  sed -e '1,/^\\echo /d' \
	      -e "/^ALTER TYPE enrollment\.payment_status ADD VALUE '\(cancelled\|refunded\)';\$$/d" \
	      src/enrollment--1.0--1.1.sql; } >$@.tmp
	@# fail rather than install a script the edits above did not apply to
	test "$$(grep -c "^CREATE TYPE enrollment\.payment_status AS ENUM ('pending', 'partial', 'paid', 'cancelled', 'refunded');$$" $@.tmp)" = 1
	test "$$(grep -c '^ALTER TYPE .* ADD VALUE\|^\\echo' $@.tmp)" = 1
	mv $@.tmp $@
