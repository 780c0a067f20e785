#!/usr/bin/env bash
# Benchmark the machine-resources collector against lshw.
#
# Usage: hack/bench-collector.sh [RUNS]
#
# Builds the agent as it ships (static, stripped), then runs the collector RUNS times
# (default 20) on this machine and on the two-NUMA fixture tree (--root), and lshw -json on
# this machine, printing the mean wall time, the peak RSS and the ratios to lshw.
# Goals: collector wall time <= 1/5 of lshw's, peak RSS <= 12 MB, binary < 10 MB.
# lshw cannot read a fixture tree, so the fixture run is compared with lshw on this machine.
set -euo pipefail

runs=${1:-20}
repo=$(cd "$(dirname "$0")/.." && pwd)
fixture="$repo/testdata/machines/two-socket-server/root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$repo"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/maas-run-scripts" ./cmd/maas-run-scripts
size=$(stat -c %s "$work/maas-run-scripts")
printf 'agent binary: %d bytes (%.2f MiB, goal < 10 MiB)\n' "$size" "$(echo "$size / 1048576" | bc -l)"

have_time=0
[ -x /usr/bin/time ] && have_time=1

# measure LABEL CMD...: prints "LABEL mean_ms peak_rss_kb" and sets MEAN_MS and PEAK_KB.
measure() {
	local label=$1
	shift
	"$@" >/dev/null 2>&1 || { echo "$label: command failed: $*" >&2; return 1; }
	local start end peak=0 rss
	start=$(date +%s%N)
	for ((i = 0; i < runs; i++)); do
		"$@" >/dev/null 2>&1
	done
	end=$(date +%s%N)
	if [ "$have_time" = 1 ]; then
		for ((i = 0; i < 5; i++)); do
			rss=$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n1)
			[ "$rss" -gt "$peak" ] && peak=$rss
		done
	fi
	MEAN_MS=$(echo "($end - $start) / $runs / 1000000" | bc -l)
	PEAK_KB=$peak
	if [ "$have_time" = 1 ]; then
		printf '%-34s wall %7.2f ms   peak RSS %6d KB\n' "$label" "$MEAN_MS" "$PEAK_KB"
	else
		printf '%-34s wall %7.2f ms   peak RSS n/a (no /usr/bin/time)\n' "$label" "$MEAN_MS"
	fi
}

measure "collector, this machine" "$work/maas-run-scripts" machine-resources
live_ms=$MEAN_MS live_kb=$PEAK_KB
measure "collector, two-NUMA fixture" "$work/maas-run-scripts" machine-resources --root "$fixture"
fix_ms=$MEAN_MS fix_kb=$PEAK_KB

if [ "$have_time" = 0 ]; then
	echo "note: /usr/bin/time is missing (apt-get install time); memory from the Go benchmark instead:"
	go test -run '^$' -bench 'BenchmarkCollect' -benchmem ./collectors | grep Benchmark || true
fi

if command -v lshw >/dev/null 2>&1; then
	measure "lshw -json, this machine" lshw -json
	lshw_ms=$MEAN_MS
	verdict() { if [ "$(echo "$1 <= $2" | bc -l)" = 1 ]; then echo ok; else echo MISSED; fi; }
	for pair in "this machine:$live_ms:$live_kb" "two-NUMA fixture:$fix_ms:$fix_kb"; do
		IFS=: read -r what ms kb <<<"$pair"
		ratio=$(echo "$ms / $lshw_ms" | bc -l)
		printf 'ratio to lshw (%s): %.3f (goal <= 0.200: %s)' "$what" "$ratio" "$(verdict "$ratio" 0.2)"
		if [ "$have_time" = 1 ]; then
			printf '; peak RSS %.1f MB (goal <= 12 MB: %s)' "$(echo "$kb / 1024" | bc -l)" "$(verdict "$kb" 12288)"
		fi
		echo
	done
else
	echo "note: lshw is not installed (apt-get install lshw); no comparison made"
fi
