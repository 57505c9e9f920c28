# scripts/lib.sh: shared by the demo, the test suite and the benchmarks.
# Installs what is missing (Debian packages), builds and installs the
# extension, and runs a throwaway PostgreSQL server in a temporary folder.
# The major is the one this Debian release ships (15 on bookworm, 17 on
# trixie, 18 on sid), or $PG_VERSION if set.  Source it; it changes
# directory to the repository root.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

SUPPORTED_PG_VERSIONS="15 16 17 18"

# Run a command as root: directly when we are root, else through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The major of this release's "postgresql" package, which depends on
# postgresql-N.
release_pg_version() {
	local depends
	depends=$(apt-cache show --no-all-versions postgresql 2>/dev/null |
		sed -n 's/^Depends: .*postgresql-\([0-9][0-9]*\).*/\1/p')
	if [ -z "$depends" ]; then
		as_root apt-get update -qq
		depends=$(apt-cache show --no-all-versions postgresql |
			sed -n 's/^Depends: .*postgresql-\([0-9][0-9]*\).*/\1/p')
	fi
	echo "$depends"
}

PG_VERSION=${PG_VERSION:-$(release_pg_version)}
case " $SUPPORTED_PG_VERSIONS " in
*" $PG_VERSION "*) ;;
*)
	echo "PostgreSQL '$PG_VERSION' is not supported: use one of $SUPPORTED_PG_VERSIONS (PG_VERSION=N)" >&2
	exit 1
	;;
esac
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
export PG_CONFIG=$PG_BIN/pg_config
export PATH=$PG_BIN:$PATH

# install_missing PACKAGE...: install those not installed yet, from the
# package lists at hand, or after updating them if that fails.
install_missing() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
		--no-install-recommends "${missing[@]}")
	as_root "${install[@]}" >/dev/null 2>&1 || {
		as_root apt-get update -qq
		as_root "${install[@]}" >/dev/null
	}
}

# ensure_packages [PACKAGE...]: PostgreSQL, its build files, pgTAP, a
# compiler, and the packages named.
ensure_packages() {
	install_missing postgresql-$PG_VERSION postgresql-server-dev-$PG_VERSION \
		postgresql-$PG_VERSION-pgtap libtap-parser-sourcehandler-pgtap-perl \
		make gcc "$@"
}

# Build warning-free and install the extension into PostgreSQL $PG_VERSION.
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
