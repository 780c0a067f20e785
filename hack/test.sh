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
echo "== go vet, gofmt, go mod tidy, staticcheck"
hack/lint.sh
echo "== go test (PostgreSQL: ${MAAS_TEST_POSTGRES_URL:-not used})"
go test -count=1 -timeout 30m ./...
echo "== fuzz (${FUZZTIME:-5s} each)"
hack/fuzz.sh
