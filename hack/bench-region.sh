#!/bin/sh
# Region figures: binary size, idle RSS, and GET machines/ throughput with 1,000 machines on the
# embedded SQLite (and on PostgreSQL when MAAS_BENCH_POSTGRES_URL names an empty database).
set -eu
cd "$(dirname "$0")/.."
N=${N:-1000}
D=${D:-10s}
C=${C:-4}
echo "== binary sizes (stripped, static)"
ls -l bin/ | awk 'NR>1 {printf "%-28s %10d bytes  %.2f MiB\n", $9, $5, $5/1048576}'
go build -o /tmp/maasgo-loadgen ./hack/loadgen
run() {
	state=$(mktemp -d)
	port=$(( 20000 + $$ % 10000 ))
	bin/maas-region serve --listen 127.0.0.1:$port --state-dir "$state" --create-admin admin --log-level warn "$@" >"$state/out" 2>"$state/err" &
	pid=$!
	i=0
	until grep -q '^API key:' "$state/out" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { cat "$state/err"; kill $pid; exit 1; }
		sleep 0.05
	done
	key=$(awk '/^API key:/ {print $3}' "$state/out")
	sleep 1
	echo "idle RSS, empty database: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
	/tmp/maasgo-loadgen -url http://127.0.0.1:$port/MAAS -key "$key" -seed "$N" -c "$C" -d "$D"
	echo "RSS after the load: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status), peak $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
	/tmp/maasgo-loadgen -url http://127.0.0.1:$port/MAAS -key "$key" -path "api/2.0/users/?op=whoami" -c "$C" -d 5s
	kill $pid; wait $pid 2>/dev/null || true
	rm -rf "$state"
}
echo "== SQLite, $N machines"
run
if [ -n "${MAAS_BENCH_POSTGRES_URL:-}" ]; then
	echo "== PostgreSQL, $N machines"
	run --database "$MAAS_BENCH_POSTGRES_URL"
fi
