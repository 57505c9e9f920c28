# scripts/lib.sh: shared by the demo, the test suite and the benchmarks.
# Installs what is missing (Debian packages), builds and installs the
# extension, and runs a throwaway PostgreSQL 15 server in a temporary folder.
# Source it; it changes directory to the repository root.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
export PG_CONFIG=$PG_BIN/pg_config
export PATH=$PG_BIN:$PATH

# Run a command as root: directly when we are root, else through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install the Debian packages that are not installed yet.
ensure_packages() {
	local wanted=(postgresql-$PG_VERSION postgresql-server-dev-$PG_VERSION
		postgresql-$PG_VERSION-pgtap libtap-parser-sourcehandler-pgtap-perl
		make gcc "$@")
	local missing=() pkg
	for pkg in "${wanted[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$pkg")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# Build warning-free and install the extension into PostgreSQL 15.
build_and_install() {
	make -s PG_CFLAGS="-Wall -Wextra -Werror -Wno-unused-parameter" >/dev/null
	as_root make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# Run a command as the owner of the throwaway cluster: initdb refuses root,
# so root runs the server as the postgres system user.
as_cluster_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# start_cluster [setting=value ...]: initdb and start a server on a Unix
# socket in a new temporary folder; exports PGHOST, PGPORT, PGUSER,
# PGDATABASE for every client started afterwards.  stop_cluster (also run
# on exit) stops it and removes the folder.
start_cluster() {
	CLUSTER_DIR=$(mktemp -d /tmp/enrollment-pg.XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$CLUSTER_DIR"
	trap stop_cluster EXIT
	as_cluster_owner initdb -D "$CLUSTER_DIR/data" -U postgres -A trust \
		--no-sync -E UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 ||
		{ cat "$CLUSTER_DIR/initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$CLUSTER_DIR'"
		echo "port = 5432"
		echo "fsync = on"
		echo "max_connections = 100"
		echo "shared_buffers = 256MB"
		echo "log_min_messages = warning"
		local setting
		for setting in "$@"; do echo "$setting"; done
	} >>"$CLUSTER_DIR/data/postgresql.conf"
	as_cluster_owner pg_ctl -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" \
		-w -t 60 start >/dev/null
	export PGHOST=$CLUSTER_DIR PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
}

stop_cluster() {
	if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ]; then
		as_cluster_owner pg_ctl -D "$CLUSTER_DIR/data" -m fast -w stop \
			>/dev/null 2>&1 || true
		rm -rf "$CLUSTER_DIR"
	fi
	CLUSTER_DIR=
}
