#!/usr/bin/env bash
# test/pg_upgrade.sh: pg_upgrade of a database with enrollments and
# payments from an older major to this one, as a DBA runs it.  The
# extension is built and installed for both majors; a cluster of the older
# one gets the database of test/dump_restore.sh --populate; pg_upgrade
# --check, then pg_upgrade, move it into a new cluster of this major; there
# test/dump_restore.sh --check finds every row unchanged and payments,
# replays, the append-only ledger and verify() working, and the extension
# keeps its version.
#   test/pg_upgrade.sh OLD_MAJOR
# Needs both majors' server and build packages (postgresql-N,
# postgresql-server-dev-N): scripts/matrix.sh installs the older one from
# the previous Debian release in a throwaway root.  Runs its own servers
# (as the postgres user when run as root); prints one TAP line per check.
source "$(dirname "$0")/../scripts/lib.sh"
source test/tap.sh

OLD_MAJOR=${1:?"usage: $0 OLD_MAJOR"}
OLD_BIN=/usr/lib/postgresql/$OLD_MAJOR/bin
[ "$OLD_MAJOR" -lt "$PG_VERSION" ] ||
	{ echo "PostgreSQL $OLD_MAJOR is not older than $PG_VERSION" >&2 && exit 2; }
[ -x "$OLD_BIN/postgres" ] && [ -x "$OLD_BIN/pg_config" ] ||
	{ echo "PostgreSQL $OLD_MAJOR and its build files are not installed" >&2 && exit 2; }

WORK=$(mktemp -d /tmp/enrollment-pg-upgrade.XXXXXX)
chmod 755 "$WORK"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK"
OLD_DATA=$WORK/$OLD_MAJOR
NEW_DATA=$WORK/$PG_VERSION
export PGHOST=$WORK PGPORT=5499 PGUSER=postgres PGDATABASE=postgres

cleanup() {
	local data
	for data in "$OLD_DATA:$OLD_BIN" "$NEW_DATA:$PG_BIN"; do
		[ -f "${data%%:*}/postmaster.pid" ] &&
			in_work "${data#*:}/pg_ctl" -D "${data%%:*}" -m immediate -w stop >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# the extension for the older major, built in a copy of the checkout
cp -r "$REPO_ROOT" "$WORK/build"
make -s -C "$WORK/build" clean PG_CONFIG="$OLD_BIN/pg_config" >/dev/null
make -s -C "$WORK/build" PG_CONFIG="$OLD_BIN/pg_config" \
	PG_CFLAGS="-Wall -Wextra -Werror -Wno-unused-parameter" >/dev/null
as_root make -s -C "$WORK/build" install PG_CONFIG="$OLD_BIN/pg_config" >/dev/null
build_and_install

# in_work COMMAND...: as the clusters' owner, in the work folder
in_work() { (cd "$WORK" && as_cluster_owner "$@"); }

# cluster BINDIR DATADIR [OPTION...]: a new cluster, configured as
# pg_upgrade needs
cluster() {
	in_work "$1/initdb" -D "$2" -U postgres -A trust --no-sync \
		-E UTF8 --locale=C.UTF-8 "${@:3}" >"$2.initdb.log" 2>&1 || { cat "$2.initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$WORK'"
		echo "port = $PGPORT"
	} >>"$2/postgresql.conf"
}
start() { in_work "$1/pg_ctl" -D "$2" -l "$2.log" -w -t 60 start >/dev/null; }
stop() { in_work "$1/pg_ctl" -D "$2" -m fast -w stop >/dev/null; }

cluster "$OLD_BIN" "$OLD_DATA"
start "$OLD_BIN" "$OLD_DATA"
bash test/dump_restore.sh --populate "$WORK/expected"
version=$(psql -X -q -t -A -d enrollment_dump_source \
	-c "SELECT extversion FROM pg_extension WHERE extname = 'enrollment'")
stop "$OLD_BIN" "$OLD_DATA"
# pg_upgrade needs the old cluster's choice of data checksums (off, the
# default before 18); from 18 on, initdb turns them on unless told.  (Not
# "initdb --help | grep -q": under pipefail, grep's early exit can fail
# initdb with SIGPIPE, which took the wrong branch.)
if [[ "$("$PG_BIN/initdb" --help)" == *--no-data-checksums* ]]; then
	cluster "$PG_BIN" "$NEW_DATA" --no-data-checksums
else
	cluster "$PG_BIN" "$NEW_DATA"
fi

# pg_upgrade writes its logs and sockets into the current folder
upgrade() {
	in_work "$PG_BIN/pg_upgrade" -b "$OLD_BIN" -B "$PG_BIN" -d "$OLD_DATA" -D "$NEW_DATA" \
		-p 5498 -P 5499 "$@" >"$WORK/pg_upgrade.log" 2>&1 && return 0
	cat "$WORK/pg_upgrade.log" >&2
	grep -h -B 3 -A 12 "error" "$NEW_DATA"/pg_upgrade_output.d/*/log/pg_upgrade_dump_*.log >&2 2>/dev/null
	return 1
}
tap "$(upgrade --check && echo t)" \
	"pg_upgrade --check from PostgreSQL $OLD_MAJOR to $PG_VERSION finds nothing in the way"
tap "$(upgrade && echo t)" \
	"pg_upgrade from PostgreSQL $OLD_MAJOR to $PG_VERSION succeeds"

start "$PG_BIN" "$NEW_DATA"
tap "$(psql -X -q -t -A -d enrollment_dump_source -c "
	SELECT extversion = '$version' AND current_setting('server_version_num')::int / 10000 = $PG_VERSION
	  FROM pg_extension WHERE extname = 'enrollment'")" \
	"after the upgrade, PostgreSQL $PG_VERSION runs the extension at its version $version"
bash test/dump_restore.sh --check "$WORK/expected"
stop "$PG_BIN" "$NEW_DATA"
tap_done
