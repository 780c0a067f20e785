#!/bin/sh
# Runs every fuzz test of the module for FUZZTIME (default 5s) each.
#
# A run that ends with only "context deadline exceeded" and no failing input written is the
# Go fuzz coordinator's race at the -fuzztime boundary (go.dev/issue/75804, fixed in Go
# 1.27), not a finding: it is run once more. Any other failure fails at once.
set -eu
cd "$(dirname "$0")/.."
t=${FUZZTIME:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fuzz() {
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" "$1" >"$log" 2>&1
}
boundary_race() {
	grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}
for pkg in $(go list ./...); do
	for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz $pkg $f"
		if fuzz "$pkg" "$f"; then
			continue
		fi
		if boundary_race; then
			echo "fuzz $pkg $f: ended on the fuzztime boundary race (go.dev/issue/75804); running it again"
			fuzz "$pkg" "$f" && continue
		fi
		cat "$log"
		exit 1
	done
done
