#!/usr/bin/env bash
# scripts/matrix.sh: the demo and the whole suite on the other PostgreSQL
# majors, each on the Debian release that ships it, in a fresh root made by
# debootstrap: bookworm (15), trixie (17) and sid (18).  Each root starts as
# a fresh Debian machine and runs the README's two commands as they are, so
# they are checked on every release.  A dump that this machine's major made
# (test/dump_restore.sh --dump) is restored in each later major, and each
# root but bookworm's also gets bookworm's 15 from bookworm's archive, to
# pg_upgrade from it (test/pg_upgrade.sh).
#   bash scripts/matrix.sh [RELEASE...]   the releases named, or all but
#                                         this machine's; prints
#                                         "N passed, N failed"
# Sourced by scripts/test.sh, it defines the functions below and runs
# nothing.  Needs root (debootstrap, chroot, mount).
#
# Cached under /var/tmp/enrollment-matrix: RELEASE.base is the pristine
# debootstrap root (made once, about 2 minutes), RELEASE.debs the packages
# downloaded into it (kept for the next run).  Each run copies the base to
# RELEASE.run, runs there, and removes it; RELEASE.log keeps its output.

MATRIX_RELEASES=(bookworm:15 trixie:17 sid:18)
MATRIX_CACHE=/var/tmp/enrollment-matrix
MATRIX_MIRROR=${MATRIX_MIRROR:-http://deb.debian.org/debian}

# other_releases MAJOR: the releases of the matrix not shipping MAJOR
other_releases() {
	local entry
	for entry in "${MATRIX_RELEASES[@]}"; do
		[ "${entry#*:}" = "$1" ] || echo "${entry%%:*}"
	done
}

major_of() {		# major_of RELEASE
	local entry
	for entry in "${MATRIX_RELEASES[@]}"; do
		[ "${entry%%:*}" = "$1" ] && echo "${entry#*:}" && return 0
	done
	echo "unknown release '$1': use one of ${MATRIX_RELEASES[*]%%:*}" >&2
	return 1
}

# make_base RELEASE: the pristine root, made once.  Services are never
# started by package installation inside it (policy-rc.d), and sid's
# mirror may serve a Release file older than its Valid-Until.
make_base() {
	local base=$MATRIX_CACHE/$1.base
	[ -f "$base/.complete" ] && return 0
	rm -rf "$base"
	mkdir -p "$MATRIX_CACHE"
	debootstrap --variant=minbase "$1" "$base" "$MATRIX_MIRROR" \
		>"$MATRIX_CACHE/$1.base.log" 2>&1 ||
		{ tail -20 "$MATRIX_CACHE/$1.base.log"; return 1; }
	printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
	chmod 755 "$base/usr/sbin/policy-rc.d"
	echo 'Acquire::Check-Valid-Until "false";' >"$base/etc/apt/apt.conf.d/99enrollment"
	touch "$base/.complete"
}

# start_bases RELEASE...: make the missing bases in the background;
# wait_bases waits for them
start_bases() {
	local release
	BASE_JOBS=()
	for release in "$@"; do
		make_base "$release" &
		BASE_JOBS+=("$!")
	done
}

wait_bases() {
	local job status=0
	for job in "${BASE_JOBS[@]}"; do wait "$job" || status=1; done
	return $status
}

# totals_of LOG -> "PASSED FAILED" from its last "N passed, N failed"
# line; "0 1" if it has none (what wrote it died first)
totals_of() {
	local totals
	totals=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$1" | tail -1)
	echo "${totals:-0 1}"
}

# remove_root ROOT: stop what still runs in it, unmount, delete
remove_root() {
	local root=$1 pid
	[ -d "$root" ] || return 0
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] &&
			kill -9 "$pid" 2>/dev/null
	done
	grep -o " $root[^ ]*" /proc/mounts | sort -r | while read -r mnt; do
		umount -l "$mnt"
	done
	if grep -q " $root" /proc/mounts; then
		echo "$root is still mounted: not removed" >&2
		return 1
	fi
	rm -rf "$root"
}

# run_in_root RELEASE [DUMP_DIR]: a fresh copy of the base, this
# checkout's files in /root/enrollment, and there the README's demo and
# test commands; then, if DUMP_DIR holds a dump of an earlier major, its
# restore; then pg_upgrade from the first release's major (15).  Prints "N passed, N failed" last: the demo counts as one test.
run_in_root() {
	local release=$1 dump_dir=${2:-} root=$MATRIX_CACHE/$1.run
	local passed=0 failed=0 p f oldest
	remove_root "$root" || return 1
	cp -a "$MATRIX_CACHE/$release.base" "$root"
	mkdir -p "$MATRIX_CACHE/$release.debs"
	mount --bind "$MATRIX_CACHE/$release.debs" "$root/var/cache/apt/archives"
	mount -t proc proc "$root/proc"
	mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=666 devpts "$root/dev/pts"
	# the machine's network settings: its resolver, and the certificate
	# authorities it trusts (with npm's setting that points there), which
	# the root's npm needs to reach the registry through this network
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	local trusted
	for trusted in /usr/local/share/ca-certificates /etc/ssl/certs/ca-certificates.crt \
		/etc/npmrc /usr/etc/npmrc; do
		if [ -e "$trusted" ]; then
			mkdir -p "$root$(dirname "$trusted")"
			cp -RLp "$trusted" "$root$(dirname "$trusted")/"
		fi
	done
	mkdir -p "$root/root/enrollment"
	git -C "$REPO_ROOT" ls-files -co --exclude-standard -z |
		(cd "$REPO_ROOT" && tar -c --null -T - -f -) |
		tar -x -f - -C "$root/root/enrollment"
	# Citus's source beside the checkout, as here: the suite builds Citus
	# in the root where it supports the major (test/citus_cluster.sh)
	if [ -d "$REPO_ROOT/../shared/citus" ]; then
		mkdir -p "$root/root/shared"
		cp -a "$REPO_ROOT/../shared/citus" "$root/root/shared/citus"
	fi

	in_root() {
		chroot "$root" env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin bash -c "cd /root/enrollment && $1"
	}
	echo "== demo: bash scripts/demo.sh"
	if in_root "bash scripts/demo.sh"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	echo "== suite: bash scripts/test.sh --host"
	in_root "bash scripts/test.sh --host" | tee "$root/suite.log" || true
	read -r p f < <(totals_of "$root/suite.log")
	passed=$((passed + p))
	failed=$((failed + f))

	# tap_step NAME COMMAND: a step printing TAP lines; none is a failure
	tap_step() {
		echo "== $1"
		in_root "$2" 2>&1 | tee "$root/step.log" || true
		p=$(grep -cE '^ok [0-9]' "$root/step.log" || true)
		f=$(grep -cE '^not ok [0-9]' "$root/step.log" || true)
		[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
		passed=$((passed + p))
		failed=$((failed + f))
	}
	if [ -n "$dump_dir" ]; then
		cp -a "$dump_dir" "$root/root/dump"
		chmod -R a+rX "$root/root/dump"
		tap_step "restore of the dump of PostgreSQL $(cat "$dump_dir/major.txt")" \
			"source scripts/lib.sh && start_cluster &&
			bash test/dump_restore.sh --restore /root/dump"
	fi
	oldest=${MATRIX_RELEASES[0]}
	if [ "${oldest%%:*}" != "$release" ]; then
		# the oldest major beside this one, from its own release's
		# archive, whose packages are preferred only where asked for
		echo "deb $MATRIX_MIRROR ${oldest%%:*} main" >"$root/etc/apt/sources.list.d/oldest.list"
		printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "${oldest%%:*}" \
			>"$root/etc/apt/preferences.d/oldest"
		tap_step "pg_upgrade from PostgreSQL ${oldest#*:} (${oldest%%:*})" \
			"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends postgresql-${oldest#*:} postgresql-server-dev-${oldest#*:} \
				>/dev/null && bash test/pg_upgrade.sh ${oldest#*:}"
	fi
	remove_root "$root" || failed=$((failed + 1))
	echo "$passed passed, $failed failed"
}

# run_matrix [DUMP_DIR] RELEASE...: run_in_root for each, its output in
# RELEASE.log; one line per major, and MATRIX_PASSED, MATRIX_FAILED
run_matrix() {
	local dump_dir=$1 release major p f started
	shift
	MATRIX_PASSED=0
	MATRIX_FAILED=0
	wait_bases || true
	for release in "$@"; do
		major=$(major_of "$release")
		started=$SECONDS
		if [ -f "$MATRIX_CACHE/$release.base/.complete" ]; then
			run_in_root "$release" \
				"$( [ -n "$dump_dir" ] && [ "$(cat "$dump_dir/major.txt")" -lt "$major" ] &&
					echo "$dump_dir")" >"$MATRIX_CACHE/$release.log" 2>&1 || true
		else
			echo "no root for $release: see $MATRIX_CACHE/$release.base.log" \
				>"$MATRIX_CACHE/$release.log"
		fi
		read -r p f < <(totals_of "$MATRIX_CACHE/$release.log")
		if [ "$f" -ne 0 ]; then
			grep -E '^not ok|FAILED|^== .*[1-9][0-9]* failed|^[+-][^+-]' \
				"$MATRIX_CACHE/$release.log" | head -60
		fi
		echo "== PostgreSQL $major ($release, fresh root): $p passed, $f failed" \
			"in $(( (SECONDS - started) / 60 )) min; log: $MATRIX_CACHE/$release.log"
		MATRIX_PASSED=$((MATRIX_PASSED + p))
		MATRIX_FAILED=$((MATRIX_FAILED + f))
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	source "$(dirname "$0")/lib.sh"
	[ "$(id -u)" -eq 0 ] || { echo "scripts/matrix.sh needs root" >&2; exit 1; }
	install_missing debootstrap
	if [ $# -gt 0 ]; then
		releases=("$@")
	else
		mapfile -t releases < <(other_releases "$PG_VERSION")
	fi
	for release in "${releases[@]}"; do major_of "$release" >/dev/null; done
	start_bases "${releases[@]}"
	run_matrix "" "${releases[@]}"
	echo "$MATRIX_PASSED passed, $MATRIX_FAILED failed"
	[ "$MATRIX_FAILED" -eq 0 ]
fi
