#!/usr/bin/env bash
# test/docs.sh: the checks of README.md and docs/ (test/docs.py), on a
# throwaway server of its own with wal_level = logical, for the examples
# of the change events.  Needs the extension installed (make install);
# prints TAP lines.
set -euo pipefail
source "$(dirname "$0")/fault/common.sh"

install_missing python3
new_server docs "wal_level = logical"
start_server "$WORK/docs"
PGPORT=$(server_port "$WORK/docs") /usr/bin/python3 test/docs.py
