#!/bin/sh
# Fleet figures (issue 14): a region on the embedded SQLite (or regions on PostgreSQL), a fleet of simulated machines
# commissioning against it (hack/fleet), one line per figure: signals per second, region CPU
# per signal, result-signal latency p50/p99, peak RSS, time to Ready.
#
#   hack/bench-fleet.sh                    100 machines, all in flight
#   FULL=1 hack/bench-fleet.sh             also 500 machines in flight, and 10,000 machines x 15 results
#   N=1000 C=100 hack/bench-fleet.sh       1,000 machines, 100 in flight
#   PROFILE=/tmp/cpu.pprof hack/bench-fleet.sh   also take a 20 s CPU profile of the region under the load
#   DATABASE=$(hack/postgres.sh) REGIONS=2 hack/bench-fleet.sh   two regions sharing PostgreSQL
#
# Sizes: N machines, C in flight (default N), FILE_SIZE bytes per uploaded file (4096), EXTRA
# extra commissioning scripts per machine (0: the 13 results of the built-ins and the default
# test; 2 makes 15), RAMP (ramp-up, 0s), HEARTBEAT (120s), MODE (commission or deployed),
# RUNNER (project, or upstream: no Idempotency-Key).
# The full report of each run is kept in $OUT (default /tmp/maasgo-bench-fleet).
set -eu
cd "$(dirname "$0")/.."
REGION=${REGION:-bin/maas-region}
OUT=${OUT:-/tmp/maasgo-bench-fleet}
mkdir -p "$OUT"
if [ ! -x "$REGION" ]; then
	REGION=$OUT/maas-region
	CGO_ENABLED=0 go build -trimpath -o "$REGION" ./cmd/maas-region
fi
go build -o "$OUT/fleet" ./hack/fleet

# fleet NAME N C EXTRA: REGIONS regions (one by default) on one database, one fleet spread
# across them, one line per figure. DATABASE names a PostgreSQL database (a URL with a query
# part, as hack/postgres.sh prints) in which each run makes a schema of its own with psql and
# drops it afterwards; without it each run has a fresh SQLite database.
fleet() {
	name=$1 n=$2 c=$3 extra=$4
	regions=${REGIONS:-1}
	engine=SQLite db=
	if [ -n "${DATABASE:-}" ]; then
		engine="PostgreSQL, $regions region(s)"
		schema=fleet_$$
		psql -q "$DATABASE" -c "CREATE SCHEMA $schema"
		db="$DATABASE&search_path=$schema"
	fi
	urls='' pids='' states='' key=''
	for i in $(seq 1 "$regions"); do
		state=$(mktemp -d)
		port=$(( 20000 + ($$ + 10 * i) % 10000 ))
		dport=$(( port + 1 ))
		admin=
		[ "$i" != 1 ] || admin="--create-admin admin"
		# shellcheck disable=SC2086 # $admin is two words or none
		"$REGION" serve --listen 127.0.0.1:$port --state-dir "$state" ${db:+--database "$db"} $admin \
			--log-level warn --debug-listen 127.0.0.1:$dport >"$state/out" 2>"$state/err" &
		pid=$!
		j=0
		until curl -sf -o /dev/null "http://127.0.0.1:$port/MAAS/"; do
			j=$((j + 1)); [ $j -lt 200 ] || { cat "$state/err"; kill $pid; exit 1; }
			sleep 0.05
		done
		[ "$i" != 1 ] || key=$(awk '/^API key:/ {print $3}' "$state/out")
		[ "$i" != 1 ] || dport1=$dport
		urls=${urls:+$urls,}http://127.0.0.1:$port/MAAS
		pids=${pids:+$pids,}$pid
		states="$states $state"
	done
	if [ -n "${PROFILE:-}" ]; then
		( sleep 2; curl -sf -o "$PROFILE" "http://127.0.0.1:$dport1/debug/pprof/profile?seconds=${PROFILE_SECONDS:-20}" ) &
		prof=$!
	fi
	log=$OUT/$name.txt
	rc=0
	"$OUT/fleet" -url "$urls" -key "$key" -pid "$pids" -figures ${db:+-verify} \
		-machines "$n" -concurrency "$c" -extra-scripts "$extra" -file-size "${FILE_SIZE:-4096}" \
		-ramp-up "${RAMP:-0s}" -heartbeat "${HEARTBEAT:-120s}" -mode "${MODE:-commission}" -runner "${RUNNER:-project}" >"$log" 2>&1 || rc=$?
	[ -z "${PROFILE:-}" ] || wait "$prof" || true
	# shellcheck disable=SC2046,SC2086 # lists of pids and directories
	{ kill $(echo "$pids" | tr , ' '); wait; rm -rf $states; } 2>/dev/null || true
	[ -z "$db" ] || psql -q "$DATABASE" -c "SET client_min_messages = warning; DROP SCHEMA $schema CASCADE"
	label="fleet $name ($n machines, $c in flight, $engine)"
	awk -v l="$label" '
		/^FIGURE/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
		/^final states:/ { sub(/^final states: /, ""); states = $0 }
		END {
			printf "%s: signals/s %s\n", l, f["signals_per_s"]
			printf "%s: region CPU per signal %s ms\n", l, f["cpu_ms_per_signal"]
			printf "%s: result signal latency p50 %s ms, p99 %s ms\n", l, f["result_p50_ms"], f["result_p99_ms"]
			printf "%s: region peak RSS %s MiB\n", l, f["peak_rss_mib"]
			printf "%s: all played in %s s, errors %s, final states: %s\n", l, f["play_s"], f["errors"], states
		}' "$log"
	if [ $rc -ne 0 ]; then
		echo "fleet $name failed (exit $rc); its report:"
		cat "$log"
		return 1
	fi
}

N=${N:-100}
fleet "n$N" "$N" "${C:-$N}" "${EXTRA:-0}"
if [ -n "${FULL:-}" ]; then
	fleet n500 500 500 "${EXTRA:-0}"
	fleet n10000x15 10000 "${C_FULL:-500}" 2
fi
