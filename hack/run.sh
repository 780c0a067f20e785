#!/bin/sh
# The main job behind `make run` (after `make build`): start the region on SQLite under
# $STATE, register this very machine with it as a machine already running a workload (the
# user guide's maas-run-scripts register-machine, or the existing machine's credentials on a
# second run), report its hardware with maas-run-scripts report-results, print what the region
# now knows of it, then keep the region serving in the foreground until Ctrl-C.
#
# Settings: STATE (default ./state), LISTEN (default :5240), MACHINE (default: the short
# host name), GO (default go).
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
GO=${GO:-go}
STATE=${STATE:-$top/state}
LISTEN=${LISTEN:-:5240}

say() { printf '\n==> %s\n' "$*"; }
die() {
	printf 'make run: %s\n' "$*" >&2
	exit 1
}

case $STATE in /*) ;; *) STATE=$top/$STATE ;; esac
mkdir -p "$STATE/machine" || die "cannot create $STATE/machine"
CGO_ENABLED=0 "$GO" build -trimpath -o bin/summary ./hack/summary || die "cannot build hack/summary"

# The machine's name in MAAS: the host name as MAAS accepts one (lower-case letters, digits
# and hyphens).
machine=${MACHINE:-$(hostname -s 2>/dev/null || uname -n)}
machine=$(printf '%s' "$machine" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9-' '-' | sed 's/^-*//; s/-*$//' | cut -c1-63)
[ -n "$machine" ] || machine=mymachine

# This machine reaches the region on loopback when it listens on every address.
port=${LISTEN##*:}
host=${LISTEN%:*}
case $host in "" | 0.0.0.0 | "[::]" | ::) host=127.0.0.1 ;; esac
url=http://$host:$port/MAAS

say "starting the region: bin/maas-region serve --state-dir $STATE --listen $LISTEN (log: $STATE/region.log)"
bin/maas-region serve --state-dir "$STATE" --listen "$LISTEN" --create-admin admin >"$STATE/region.out" 2>"$STATE/region.log" &
region=$!
# shellcheck disable=SC2317 # called by the trap
stop() {
	trap - INT TERM
	printf '\nstopping the region\n'
	kill -TERM "$region" 2>/dev/null
	wait "$region"
	exit 0
}
trap stop INT TERM

tries=0
until grep -q '^API key:' "$STATE/region.out" 2>/dev/null; do
	if ! kill -0 "$region" 2>/dev/null; then
		tail -n 20 "$STATE/region.log" >&2
		die "the region did not start (see $STATE/region.log)"
	fi
	tries=$((tries + 1))
	[ "$tries" -lt 300 ] || die "the region did not print its API key within 30 s"
	sleep 0.1
done
key=$(sed -n 's/^API key: *//p' "$STATE/region.out")
sed -n '/^MAAS region at /,/^log in with/p' "$STATE/region.out"

# job registers this machine (or finds it) and reports its hardware; it returns non-zero
# when a step failed, leaving the region serving so the failure can be looked at.
job() {
	cd "$STATE/machine" || return 1
	say "fetching the agent's launcher, as the user guide does: $url/maas-run-scripts"
	if command -v wget >/dev/null 2>&1; then
		wget -q -O maas-run-scripts.new "$url/maas-run-scripts"
	elif command -v curl >/dev/null 2>&1; then
		curl -fsS -o maas-run-scripts.new "$url/maas-run-scripts"
	else
		echo "neither wget nor curl is installed (the launcher needs one): using bin/maas-run-scripts directly"
		cp "$top/bin/maas-run-scripts" maas-run-scripts.new
	fi || return 1
	chmod 755 maas-run-scripts.new && mv maas-run-scripts.new maas-run-scripts || return 1
	# The launcher keeps the agent it downloads beside itself; drop those of earlier builds.
	rm -f .maas-run-scripts-*

	creds=$machine-creds.yaml
	id=$("$top/bin/summary" --system-id "$url" "$key" "$machine")
	case $? in
	0)
		if grep -q "/metadata/status/$id\$" "$creds" 2>/dev/null; then
			say "$machine is already machine $id: reusing $STATE/machine/$creds"
		else
			say "$machine is already machine $id: ./maas-run-scripts get-machine-token $url \$API_KEY $id $creds"
			./maas-run-scripts get-machine-token "$url" "$key" "$id" "$creds" || return 1
		fi
		;;
	2)
		say "registering this machine: ./maas-run-scripts register-machine --hostname $machine $url \$API_KEY"
		./maas-run-scripts register-machine --hostname "$machine" "$url" "$key" || return 1
		;;
	*) return 1 ;;
	esac

	say "reporting its hardware: ./maas-run-scripts report-results --config $creds --storage-dir $STATE/agent"
	./maas-run-scripts report-results --config "$creds" --storage-dir "$STATE/agent"
	reported=$?

	say "what the region now knows of $machine"
	"$top/bin/summary" "$url" "$key" "$machine" || return 1
	cat <<EOF
  the scripts' output on this machine: $STATE/agent/out/   the region's log: $STATE/region.log
EOF
	return $reported
}

if job; then
	say "done"
else
	say "a step of the main job failed (see above)"
fi
cd "$top" || exit 1
# The web interface needs a password: an administrator "operator" gets one on the first run,
# kept in $STATE/web-password.
if [ ! -s "$STATE/web-password" ]; then
	pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)
	if bin/maas-region createadmin --state-dir "$STATE" --username operator --password "$pw" >/dev/null 2>&1; then
		(umask 077 && printf '%s\n' "$pw" >"$STATE/web-password")
	fi
fi
if [ -s "$STATE/web-password" ]; then
	say "web interface: $url/r/ (user operator, password in $STATE/web-password: $(cat "$STATE/web-password"))"
fi
printf 'The region keeps serving at %s (API key above); Ctrl-C stops it.\n' "$url"
while kill -0 "$region" 2>/dev/null; do
	wait "$region"
done
tail -n 20 "$STATE/region.log" >&2
die "the region stopped (see $STATE/region.log)"
