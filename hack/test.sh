#!/bin/sh
# Runs every test. Without MAAS_TEST_POSTGRES_URL it sets up a PostgreSQL server on this machine
# (hack/postgres.sh: installs it with apt when missing and run as root), so the store suite and
# the integration tests run against both engines. NO_POSTGRES=1 runs the SQLite half only.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${MAAS_TEST_POSTGRES_URL:-}" ] && [ -z "${NO_POSTGRES:-}" ]; then
	MAAS_TEST_POSTGRES_URL=$(hack/postgres.sh)
	export MAAS_TEST_POSTGRES_URL
fi
if [ -n "${MAAS_TEST_POSTGRES_URL:-}" ]; then
	export MAAS_TEST_REQUIRE_POSTGRES=1
fi
# region/userdata's test reads the deploy user data with cloud-init's own code: install
# Debian's cloud-init when no python3 imports it and root has apt. Installing starts no
# service (its units run at boot); cloud-init.disabled keeps it from running at the next boot
# of a machine that did not have it.
if ! python3 -c 'import cloudinit' 2>/dev/null && ! /usr/bin/python3 -c 'import cloudinit' 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "== installing cloud-init with apt"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends cloud-init >/dev/null
		mkdir -p /etc/cloud
		touch /etc/cloud/cloud-init.disabled
	else
		echo "== cloud-init is not installed and cannot be installed here (need root and apt): its user data test skips"
	fi
fi
# region/web's browser tests drive Debian's Chromium headless: install it the same way.
if [ ! -x /usr/bin/chromium ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "== installing chromium with apt"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends chromium >/dev/null
	else
		echo "== chromium is not installed and cannot be installed here (need root and apt): the browser tests skip"
	fi
fi
echo "== go vet, gofmt, go mod tidy, staticcheck"
hack/lint.sh
echo "== go test (PostgreSQL: ${MAAS_TEST_POSTGRES_URL:-not used})"
go test -count=1 -timeout 30m ./...
echo "== fuzz (${FUZZTIME:-5s} each)"
hack/fuzz.sh
