#!/usr/bin/env bash
# seed-walk.sh walks the user guide "How to deploy machines (snap/2.9/CLI)" top to bottom with
# the maas CLI against a running region, using the guide's commands as written, with a machine
# that really runs its user data inside a network namespace. Every step checks what a person would look at; every invalid call must
# give a clear message and a non-zero exit. It stops at the first failure.
#
# cmd/maas/seed_test.go runs it (go test -run TestSeedWalk ./cmd/maas/): it builds the
# binaries, makes the namespace, starts the region on the namespace's host address and sets:
#
#   PATH                   with our maas and maas-region first (jq, curl, ip, tar, xz too)
#   HOME, XDG_CONFIG_HOME  where maas keeps its profiles
#   PROFILE                the profile name to log in as (admin)
#   MAAS_URL               the region as the machine reaches it, http://HOST:PORT/MAAS
#   MAAS_API_KEY           an administrator's API key
#   MAAS_NETNS             the network namespace the machine runs in (needs root)
#   MAAS_AGENT_DIR         the region's --agent-dir
#   MAAS_REGION_DATABASE, MAAS_REGION_STATE_DIR
#                          the region's database, for `maas-region user-data`
#   WORK                   an empty scratch directory
#
# The region must run its status monitor often (serve --monitor-interval 1s): the walk sets
# node_timeout to one minute and waits for a machine that never reports to fail.
set -euo pipefail

: "${PROFILE:?}" "${MAAS_URL:?}" "${MAAS_API_KEY:?}" "${MAAS_NETNS:?}" "${MAAS_AGENT_DIR:?}" "${WORK:?}"

START=$(date +%s)
OUT=

step() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }

fail() {
	printf 'seed-walk: FAILED: %s\n' "$*" >&2
	exit 1
}

# ok ARGS...: maas ARGS must succeed; its output is kept in $OUT.
ok() {
	local rc=0
	maas "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	OUT=$(cat "$WORK/out")
	[ "$rc" -eq 0 ] || fail "maas $*: exit $rc
stdout: $OUT
stderr: $(cat "$WORK/err")"
}

# refused CODE TEXT ARGS...: maas ARGS must fail with HTTP CODE: exit 2, "HTTP CODE: ..." alone
# on standard error and the region's message, containing TEXT, on standard output.
refused() {
	local code=$1 text=$2 rc=0
	shift 2
	maas "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	OUT=$(cat "$WORK/out")
	local err
	err=$(cat "$WORK/err")
	[ "$rc" -eq 2 ] || fail "maas $*: exit $rc, want 2 (stdout: $OUT; stderr: $err)"
	case $err in "HTTP $code: "*) ;; *) fail "maas $*: stderr '$err', want 'HTTP $code: ...'" ;; esac
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "maas $*: stderr is not one line: $err"
	case $OUT in *"$text"*) ;; *) fail "maas $*: message '$OUT' lacks '$text'" ;; esac
	note "refused as it should be: $OUT ($err)"
}

# misuse TEXT ARGS...: maas ARGS must be rejected before any request: exit 2, nothing on
# standard output and one line containing TEXT on standard error.
misuse() {
	local text=$1 rc=0
	shift
	maas "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	local err
	err=$(cat "$WORK/err")
	[ "$rc" -eq 2 ] || fail "maas $*: exit $rc, want 2 (stderr: $err)"
	[ ! -s "$WORK/out" ] || fail "maas $*: printed on standard output: $(cat "$WORK/out")"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "maas $*: stderr is not one line: $err"
	case $err in *"$text"*) ;; *) fail "maas $*: message '$err' lacks '$text'" ;; esac
	note "rejected as it should be: $err"
}

# field FILTER: jq -r FILTER over $OUT.
field() {
	jq -r "$1" <<<"$OUT" || fail "jq '$1' over: $OUT"
}

# is WHAT GOT WANT
is() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	printf '   ok %s: %s\n' "$1" "$(head -1 <<<"$3")"
}

# has WHAT TEXT WANT: TEXT contains WANT.
has() {
	case $2 in *"$3"*) ;; *) fail "$1: '$2' lacks '$3'" ;; esac
}

# status SYSTEM_ID: the machine's status name.
status() {
	ok "$PROFILE" machine read "$1"
	field .status_name
}

# wait_status SYSTEM_ID STATUS SECONDS: wait until the machine has STATUS.
wait_status() {
	local deadline=$(($(date +%s) + $3)) s
	while :; do
		s=$(status "$1")
		[ "$s" = "$2" ] && return 0
		[ "$(date +%s)" -lt "$deadline" ] || fail "$1 is still '$s' after $3 s, want '$2'"
		sleep 1
	done
}

# The machine: directories for its /tmp and /var/log, and commands inside its namespace that
# see them where a booted machine has them (the host's stay untouched). Files of the walk are
# not visible there (they may be under the host's /tmp): scripts go in on standard input.
MACHINE=$WORK/machine
mkdir -p "$MACHINE/tmp" "$MACHINE/var-log"
chmod 1777 "$MACHINE/tmp"
in_machine() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	ip netns exec "$MAAS_NETNS" unshare --mount sh -c \
		'mount --bind "$0" /var/log && mount --bind "$1" /tmp && shift && exec "$@"' \
		"$MACHINE/var-log" "$MACHINE/tmp" "$@"
}

# oauth CONSUMER_KEY TOKEN_KEY TOKEN_SECRET: the Authorization header a machine signs with.
oauth() {
	printf 'OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="%s", oauth_token="%s", oauth_signature="&%s", oauth_nonce="%s", oauth_timestamp="%s"' \
		"$1" "$2" "$3" "$RANDOM$RANDOM" "$(date +%s)"
}

# commission_machine SYSTEM_ID: the machine boots: cloud-init runs the user data the region
# gives it for commissioning, which downloads the agent and runs every script.
BOOTS=0
commission_machine() {
	BOOTS=$((BOOTS + 1))
	local ud=$WORK/user-data-$BOOTS.sh log=$WORK/boot-$BOOTS.log rc=0
	maas-region user-data "$1" --url "$MAAS_URL" --agent-dir "$MAAS_AGENT_DIR" >"$ud" ||
		fail "maas-region user-data $1"
	has "user data" "$(head -1 "$ud")" "#!/bin/sh"
	in_machine sh <"$ud" >"$log" 2>&1 || rc=$?
	sed 's/^/   | /' "$log"
	# The agent's exit status says whether every script passed; the walk checks the region.
	note "user data exited $rc"
	grep -q "All results are delivered" "$log" || fail "the agent did not deliver its results"
	USER_DATA_DIR=$(sed -n 's|^user data: fetching the agent .* into \(/tmp/user_data\.sh\..*\)$|\1|p' "$log")
	[ -d "$MACHINE$USER_DATA_DIR/bin" ] || fail "the user data's directory $USER_DATA_DIR is not on the machine"
}

# deploy_machine SYSTEM_ID: the deployed machine boots: cloud-init fetches its user data from
# the metadata API with the machine's token and runs its runcmd, which reports the end of the
# installation.
deploy_machine() {
	ok "$PROFILE" machine get-token "$1"
	local auth
	auth=$(oauth "$(field .consumer_key)" "$(field .token_key)" "$(field .token_secret)")
	in_machine curl -fsS -H "Authorization: $auth" "$MAAS_URL/metadata/latest/user-data" >"$WORK/deploy-user-data" ||
		fail "the machine cannot read its user data"
	has "deploy user data" "$(head -1 "$WORK/deploy-user-data")" "#cloud-config"
	# runcmd: [[sh, -c, |<block>]]: the block is indented by six spaces.
	awk '/^    - \|$/ { on = 1; next } on && /^      / { print substr($0, 7); next } on { exit }' \
		"$WORK/deploy-user-data" >"$WORK/deploy-runcmd.sh"
	has "runcmd" "$(cat "$WORK/deploy-runcmd.sh")" "/metadata/status/$1"
	in_machine sh <"$WORK/deploy-runcmd.sh" || fail "the completion report failed"
}

step "Log in"
ok login "$PROFILE" "$MAAS_URL" "$MAAS_API_KEY"
has "login" "$OUT" "You are now logged in to the MAAS server at $MAAS_URL/api/2.0/ with the profile name '$PROFILE'."
ok list
is "maas list" "$OUT" "$PROFILE $MAAS_URL/api/2.0/ $MAAS_API_KEY"

step "describe/ is what upstream's maas CLI needs (protocol.md 11.5)"
ctype=$(curl -fsS -o "$WORK/describe.json" -w '%{content_type}' "$MAAS_URL/api/2.0/describe/")
is "describe/ Content-Type" "$ctype" "application/json"
is "resources without name, anon or auth" \
	"$(jq '[.resources[] | select(has("name") and has("anon") and has("auth") | not)] | length' "$WORK/describe.json")" 0
is "actions whose :param lines do not follow a blank line" \
	"$(jq -r '[.handlers[] | .name as $h | .actions[] | select((.doc | contains(":param")) and (.doc | contains("\n\n:param") | not)) | "\($h).\(.name)"] | join(" ")' "$WORK/describe.json")" ""
for a in MachineHandler.commission NodeScriptsHandler.create NodeScriptHandler.revert NodeScriptResultsHandler.update \
	NodeScriptResultHandler.download InterfaceHandler.update MachinesHandler.allocate MachineHandler.deploy MaasHandler.set_config; do
	is "$a documents its parameters" "$(jq -r --arg h "${a%.*}" --arg a "${a#*.}" \
		'.handlers[] | select(.name == $h) | .actions[] | select(.name == $a) | .doc | contains("\n\n:param ")' "$WORK/describe.json")" true
done
note "$(jq '.resources | length' "$WORK/describe.json") resources, every action documented as the CLI expects"

step "Enlist the machine by hand; creating it starts commissioning"
MAC=$(ip netns exec "$MAAS_NETNS" cat /sys/class/net/eth0/address)
ok "$PROFILE" machines create hostname=ace-swan architecture=amd64 mac_addresses="$MAC" power_type=manual testing_scripts=none
is "status after create" "$(field .status_name)" "Commissioning"

step "Find the machine's system ID: maas \$PROFILE machines read | jq '.[] | .hostname, .system_id'"
maas "$PROFILE" machines read | jq '.[] | .hostname, .system_id' | tee "$WORK/jq.out"
SYSTEM_ID=$(sed -n 2p "$WORK/jq.out" | tr -d '"')
is "jq output" "$(cat "$WORK/jq.out")" "\"ace-swan\"
\"$SYSTEM_ID\""
is "jq -r system_id" "$(maas "$PROFILE" machines read | jq -r '.[] | select(.hostname == "ace-swan") | .system_id')" "$SYSTEM_ID"

step "The machine boots and runs its commissioning user data"
BOOT_START=$(date +%s%N)
commission_machine "$SYSTEM_ID"
wait_status "$SYSTEM_ID" Ready 30
BOOT_END=$(date +%s%N)
ok "$PROFILE" node-script-result read "$SYSTEM_ID" current-commissioning
is "commissioning run" "$(field .status_name)" "Passed"
# End to end (issue 14): from the user data's start to Ready, beside the span in which the
# scripts ran (first start to last end, commissioning and testing); the rest is the agent's
# download, set-up and uploads, the region's work and this walk's 1 s status polling.
COM_OUT=$OUT
COM_SPAN=$(jq '[.results[] | select(.starttime != "" and .endtime != "")] | [(map(.starttime) | min), (map(.endtime) | max)]' <<<"$OUT")
ok "$PROFILE" node-script-result read "$SYSTEM_ID" current-testing
SPAN=$(jq -n --argjson c "$COM_SPAN" --argjson t "$(jq '[.results[] | select(.starttime != "" and .endtime != "")] | [(map(.starttime) | min), (map(.endtime) | max)]' <<<"$OUT")" \
	'[$c[0], $t[0]] | map(select(. != null)) | min as $a | [$c[1], $t[1]] | map(select(. != null)) | max as $b | ($b - $a) * 1000 | floor')
TOTAL=$(((BOOT_END - BOOT_START) / 1000000))
note "end to end: user data to Ready in $TOTAL ms; the scripts ran within $SPAN ms; the rest: $((TOTAL - SPAN)) ms"
OUT=$COM_OUT
is "commissioning results not Passed" "$(field '[.results[] | select(.status_name != "Passed") | .name] | join(" ")')" ""
is "built-in commissioning scripts run" "$(field '[.results[].name] | index("20-maas-02-dhcp-unconfigured-ifaces") != null and index("maas-get-fruid-api-data") != null')" true
note "$(field '.results | length') commissioning scripts passed"

step "Download a built-in script"
ok "$PROFILE" node-script download 20-maas-02-dhcp-unconfigured-ifaces
is "first line" "$(head -1 <<<"$OUT")" "#!/bin/sh"
has "built-in script" "$OUT" "# name: 20-maas-02-dhcp-unconfigured-ifaces"

step "Upload hardware testing scripts"
cat >"$WORK/seed-test.sh" <<'EOF'
#!/bin/sh
# --- Start MAAS 1.0 script metadata ---
# title: Count the CPUs
# description: Seed walk test that needs no packages.
# hardware_type: cpu
# timeout: 60
# results:
#   cpus: {title: CPUs}
# --- End MAAS 1.0 script metadata ---
n=$(grep -c '^processor' /proc/cpuinfo)
echo "seed-test: $n CPUs"
echo "seed-test: nothing to complain about" >&2
printf 'status: passed\nresults:\n  cpus: %s\n' "$n" >"$RESULT_PATH"
EOF
cat >"$WORK/seed-fail.sh" <<'EOF'
#!/bin/sh
echo "seed-fail: this test is known to fail"
exit 1
EOF
cat >"$WORK/seed-commission.sh" <<'EOF'
#!/bin/sh
echo "seed-commission: custom commissioning on $(uname -m)"
EOF
# The guide's line ends in "name> \", which makes the shell redirect into a file; without it:
ok "$PROFILE" node-scripts create name=seed-test script="$WORK/seed-test.sh" type=testing
is "type_name" "$(field .type_name)" "Testing script"
is "hardware_type_name" "$(field .hardware_type_name)" "CPU"
is "tags" "$(field '.tags | join(",")')" "cpu"
FIRST_REV=$(field '.history[0].id')
ok "$PROFILE" node-scripts create name=seed-fail script@="$WORK/seed-fail.sh" type=testing tags=seed
ok "$PROFILE" node-scripts create name=seed-commission script="$WORK/seed-commission.sh" type=commissioning
is "type_name" "$(field .type_name)" "Commissioning script"
misuse "no such file" "$PROFILE" node-scripts create name=seed-missing script@="$WORK/missing.sh" type=testing
# script=PATH naming no file sends the text itself, with a warning; the region refuses it.
rc=0
maas "$PROFILE" node-scripts create name=seed-missing script="$WORK/missing.sh" type=testing >"$WORK/out" 2>"$WORK/err" || rc=$?
is "exit status of a create with a missing script" "$rc" 2
has "warning" "$(cat "$WORK/err")" "is not a readable file"
has "warning" "$(cat "$WORK/err")" "HTTP 400: Bad Request"
has "the region's answer" "$(cat "$WORK/out")" "Must start with shebang"
note "refused as it should be: $(cat "$WORK/out") ($(tr '\n' ' ' <"$WORK/err"))"
refused 400 "unknown script type" "$PROFILE" node-scripts create name=seed-bad script="$WORK/seed-fail.sh" type=bogus

step "List the testing scripts, filtered by tag"
ok "$PROFILE" node-scripts read type=testing filters=cpu
is "cpu scripts include seed-test" "$(field '[.[].name] | index("seed-test") != null')" true
is "cpu scripts exclude seed-fail" "$(field '[.[].name] | index("seed-fail") == null')" true
is "only testing scripts" "$(field '[.[].type_name] | unique | join(",")')" "Testing script"

step "Update a script; the history records the new version"
# shellcheck disable=SC2016 # $n is the script's
sed 's/seed-test: \$n CPUs/seed-test: counted $n CPUs/' "$WORK/seed-test.sh" >"$WORK/seed-test-v2.sh"
ok "$PROFILE" node-script update seed-test script="$WORK/seed-test-v2.sh" comment="Updated version"
is "history length" "$(field '.history | length')" 2
is "newest comment" "$(field '.history[0].comment')" "Updated version"
is "oldest version" "$(field '.history[1].id')" "$FIRST_REV"
is "oldest comment" "$(field '.history[1].comment')" "null"
ok "$PROFILE" node-script download seed-test
is "downloaded after update" "$OUT" "$(cat "$WORK/seed-test-v2.sh")"

step "Revert it; the later version is gone"
ok "$PROFILE" node-script revert seed-test to="$FIRST_REV"
is "history after revert" "$(field '[.history[].id] | join(",")')" "$FIRST_REV"
refused 400 "not found in history" "$PROFILE" node-script revert seed-test to=999999
refused 400 "Unable to revert default script" "$PROFILE" node-script revert 20-maas-02-dhcp-unconfigured-ifaces to=1

step "Download it"
maas "$PROFILE" node-script download seed-test >"$WORK/seed-test.download"
cmp "$WORK/seed-test.sh" "$WORK/seed-test.download" || fail "the downloaded script differs from the uploaded one"
refused 404 "seed-nosuch" "$PROFILE" node-script download seed-nosuch

step "Tag scripts to group them"
ok "$PROFILE" node-script add-tag seed-test tag=seed
is "tags" "$(field '.tags | sort | join(",")')" "cpu,seed"
ok "$PROFILE" node-script add-tag seed-test tag=scratch
ok "$PROFILE" node-script remove-tag seed-test tag=scratch
is "tags after remove-tag" "$(field '.tags | sort | join(",")')" "cpu,seed"
refused 400 "," "$PROFILE" node-script add-tag seed-test tag=a,b
ok "$PROFILE" node-scripts read type=testing filters=seed
is "scripts tagged seed" "$(field '[.[].name] | sort | join(",")')" "seed-fail,seed-test"

step "Commission the Ready machine with selected scripts"
refused 400 "seed-nosuch" "$PROFILE" machine commission "$SYSTEM_ID" testing_scripts=seed-nosuch
misuse "not a name=value" "$PROFILE" machine commission "$SYSTEM_ID" testing_scripts
misuse "missing SYSTEM_ID" "$PROFILE" machine commission commissioning_scripts=seed-commission
ok "$PROFILE" machine commission "$SYSTEM_ID" commissioning_scripts=seed-commission testing_scripts=seed
is "status" "$(field .status_name)" "Commissioning"
is "commissioning_status_name" "$(field .commissioning_status_name)" "Pending"
is "testing_status_name" "$(field .testing_status_name)" "Pending"
refused 409 "No machine available" "$PROFILE" machines allocate system_id="$SYSTEM_ID"
ok "$PROFILE" node-script-result read "$SYSTEM_ID" current-testing
is "selected tests" "$(field '[.results[].name] | sort | join(",")')" "seed-fail,seed-test"
commission_machine "$SYSTEM_ID"
wait_status "$SYSTEM_ID" "Failed testing" 30
[ -f "$MACHINE$USER_DATA_DIR/scripts/testing/seed-test" ] || fail "no testing scripts under /tmp/user_data.sh.*/scripts/testing/"
grep -q "seed-test" "$MACHINE/var-log/cloud-init-output.log" || fail "nothing logged to /var/log/cloud-init-output.log"

step "View the script results"
ok "$PROFILE" machine read "$SYSTEM_ID"
is "commissioning_status_name" "$(field .commissioning_status_name)" "Passed"
is "testing_status_name" "$(field .testing_status_name)" "Failed"
ok "$PROFILE" node-script-result read "$SYSTEM_ID" current-commissioning
is "custom commissioning script ran" "$(field '.results[] | select(.name == "seed-commission") | .status_name')" "Passed"
COMMISSIONING_RUN=$(field .id)
ok "$PROFILE" node-script-result read "$SYSTEM_ID" current-testing
RUN_ID=$(field .id)
is "testing run" "$(field .status_name)" "Failed"
is "seed-test" "$(field '.results[] | select(.name == "seed-test") | "\(.status_name) \(.exit_status) \(.suppressed)"')" "Passed 0 false"
is "seed-fail" "$(field '.results[] | select(.name == "seed-fail") | "\(.status_name) \(.exit_status)"')" "Failed 1"
is "seed-test revision" "$(field '.results[] | select(.name == "seed-test") | .script_revision_id')" "$FIRST_REV"
refused 404 "999999" "$PROFILE" node-script-result read "$SYSTEM_ID" 999999

step "Filter the results by type, script name and tag"
ok "$PROFILE" node-script-results read "$SYSTEM_ID" type=testing filters=seed-test,cpu
is "types" "$(field '[.[].type_name] | unique | join(",")')" "Testing"
is "scripts" "$(field '[.[].results[].name] | unique | join(",")')" "seed-test"
ok "$PROFILE" node-script-results read "$SYSTEM_ID" type=commissioning filters=seed-commission
is "commissioning runs with seed-commission" "$(field '[.[] | select(.results | length > 0) | .id] | join(",")')" "$COMMISSIONING_RUN"
refused 400 "bogus" "$PROFILE" node-script-results read "$SYSTEM_ID" type=bogus

step "Suppress the known failure"
ok "$PROFILE" node-script-results update "$SYSTEM_ID" type=testing filters=seed-fail suppressed=True
is "suppressed seed-fail" "$(field '[.[].results[] | select(.name == "seed-fail") | .suppressed] | unique | join(",")')" "true"
is "seed-test untouched" "$(field '[.[].results[] | select(.name == "seed-test") | .suppressed] | unique | join(",")')" "false"
ok "$PROFILE" node-script-result read "$SYSTEM_ID" "$RUN_ID"
is "run status with the failure suppressed" "$(field .status_name)" "Passed"
ok "$PROFILE" machine read "$SYSTEM_ID"
is "testing_status_name" "$(field .testing_status_name)" "Passed"
ok "$PROFILE" node-script-results update "$SYSTEM_ID" type=testing filters=seed-fail suppressed=False
ok "$PROFILE" node-script-result read "$SYSTEM_ID" "$RUN_ID"
is "run status unsuppressed" "$(field .status_name)" "Failed"
ok "$PROFILE" node-script-results update "$SYSTEM_ID" type=testing filters=seed-fail suppressed=True

step "Download the results as tar.xz"
maas "$PROFILE" node-script-result download "$SYSTEM_ID" "$RUN_ID" output=all filetype=tar.xz >"$WORK/results.tar.xz"
is "file type" "$(head -c 6 "$WORK/results.tar.xz" | od -An -tx1 | tr -d ' \n')" "fd377a585a00"
mkdir "$WORK/results"
tar -xJf "$WORK/results.tar.xz" -C "$WORK/results"
ROOT=ace-swan-testing-$RUN_ID
is "tar contents" "$(cd "$WORK/results" && find . -type f | sort | tr '\n' ' ')" \
	"./$ROOT/seed-fail ./$ROOT/seed-fail.err ./$ROOT/seed-fail.out ./$ROOT/seed-fail.yaml ./$ROOT/seed-test ./$ROOT/seed-test.err ./$ROOT/seed-test.out ./$ROOT/seed-test.yaml "
CPUS=$(grep -c '^processor' /proc/cpuinfo)
is "seed-test.out" "$(cat "$WORK/results/$ROOT/seed-test.out")" "seed-test: $CPUS CPUs"
is "seed-test.err" "$(cat "$WORK/results/$ROOT/seed-test.err")" "seed-test: nothing to complain about"
has "seed-test combined" "$(cat "$WORK/results/$ROOT/seed-test")" "seed-test: $CPUS CPUs"
has "seed-test.yaml" "$(cat "$WORK/results/$ROOT/seed-test.yaml")" "cpus: $CPUS"
is "seed-fail.out" "$(cat "$WORK/results/$ROOT/seed-fail.out")" "seed-fail: this test is known to fail"
is "member modes" "$(tar -tvJf "$WORK/results.tar.xz" | awk '$1 !~ /^d/ { print $1 }' | sort -u)" "-rw-r--r--"
ok "$PROFILE" node-script-result download "$SYSTEM_ID" "$COMMISSIONING_RUN" output=stdout filters=seed-commission
is "seed-commission stdout" "$OUT" "seed-commission: custom commissioning on $(uname -m)"
refused 400 "zip" "$PROFILE" node-script-result download "$SYSTEM_ID" "$RUN_ID" filetype=zip

step "Override the failed testing; the machine can be used"
ok "$PROFILE" machine override-failed-testing "$SYSTEM_ID" comment="seed-fail is known to fail"
is "status" "$(field .status_name)" "Ready"
is "testing_status_name" "$(field .testing_status_name)" "Passed"
ok "$PROFILE" node-script-result read "$SYSTEM_ID" "$RUN_ID"
is "seed-fail kept" "$(field '.results[] | select(.name == "seed-fail") | "\(.status_name) \(.suppressed)"')" "Failed true"
refused 409 "only a machine in Failed testing" "$PROFILE" machine override-failed-testing "$SYSTEM_ID"

step "Commission again with the passing test only; the machine is Ready"
ok "$PROFILE" machine commission "$SYSTEM_ID" testing_scripts=seed-test
commission_machine "$SYSTEM_ID"
wait_status "$SYSTEM_ID" Ready 30
ok "$PROFILE" machine read "$SYSTEM_ID"
is "testing_status_name" "$(field .testing_status_name)" "Passed"

step "Run all scripts manually on the machine, without downloading or sending"
in_machine "$USER_DATA_DIR/bin/maas-run-remote-scripts" --no-download --no-send "$USER_DATA_DIR" >"$WORK/manual.log" 2>&1 ||
	fail "maas-run-remote-scripts --no-download --no-send: $(cat "$WORK/manual.log")"
sed 's/^/   | /' "$WORK/manual.log"
status "$SYSTEM_ID" >/dev/null
is "status after a run that sends nothing" "$(field .status_name)" "Ready"

step "Delete a script"
maas "$PROFILE" node-script delete seed-fail -d >"$WORK/out" 2>"$WORK/err" || fail "node-script delete: $(cat "$WORK/err")"
has "delete answer" "$(cat "$WORK/err")" "204 No Content"
grep -q '^Content-Type: ' "$WORK/err" || fail "the 204 has no Content-Type: $(cat "$WORK/err")"
refused 404 "seed-fail" "$PROFILE" node-script read seed-fail
refused 400 "Unable to delete default script" "$PROFILE" node-script delete 20-maas-02-dhcp-unconfigured-ifaces

step "Check and change the interfaces' links"
# column(1) lines the table up, when installed.
columns() { if command -v column >/dev/null; then column -t; else cat; fi; }
maas "$PROFILE" interfaces read "$SYSTEM_ID" |
	jq -r '(["LINK_NAME","LINK_CONNECTED?","LINK_SPEED", "I/F_SPEED"]
| (., map(length*"-"))), (.[] | [.name, .link_connected, .link_speed, .interface_speed])
| @tsv' | columns | tee "$WORK/links"
has "links table" "$(cat "$WORK/links")" "eth0"
ok "$PROFILE" interfaces read "$SYSTEM_ID"
is "interfaces" "$(field '[.[] | "\(.name) \(.mac_address)"] | join(",")')" "eth0 $MAC"
INTERFACE_ID=$(field '.[0].id')
ok "$PROFILE" interface update "$SYSTEM_ID" "$INTERFACE_ID" link_connected=false
is "unplugged" "$(field '"\(.link_connected) \(.link_speed)"')" "false 0"
refused 400 "link_speed" "$PROFILE" interface update "$SYSTEM_ID" "$INTERFACE_ID" link_speed=100
ok "$PROFILE" interface update "$SYSTEM_ID" "$INTERFACE_ID" link_connected=true
is "repaired" "$(field .link_connected)" "true"
ok "$PROFILE" interface update "$SYSTEM_ID" "$INTERFACE_ID" link_speed=1000 interface_speed=10000
is "speeds" "$(field '"\(.link_speed) \(.interface_speed)"')" "1000 10000"
ok "$PROFILE" interfaces read "$SYSTEM_ID"
is "speeds kept" "$(field '.[0] | "\(.link_connected) \(.link_speed) \(.interface_speed)"')" "true 1000 10000"
refused 400 "link_speed" "$PROFILE" interface update "$SYSTEM_ID" "$INTERFACE_ID" link_speed=fast
misuse "not a name=value" "$PROFILE" interface update "$SYSTEM_ID" "$INTERFACE_ID" link_speed

step "Configure the node timeout, and enlist a machine that will never report"
ok "$PROFILE" maas set-config name=node-timeout value=1
is "set-config" "$OUT" "OK"
ok "$PROFILE" maas get-config name=node_timeout
is "node_timeout" "$OUT" "1"
refused 400 "out of range" "$PROFILE" maas set-config name=node-timeout value=0
refused 400 "whole number" "$PROFILE" maas set-config name=node-timeout value=soon
ok "$PROFILE" machines create hostname=silent architecture=amd64 mac_addresses=52:54:00:5e:ed:01 power_type=manual
SILENT=$(field .system_id)
SILENT_START=$(date +%s)
is "silent machine" "$(field .status_name)" "Commissioning"

step "Allocate a random machine, then a specific one"
ok "$PROFILE" machines allocate
is "allocated" "$(field '"\(.system_id) \(.status_name) \(.owner)"')" "$SYSTEM_ID Allocated admin"
refused 409 "No machine available" "$PROFILE" machines allocate
ok "$PROFILE" machine release "$SYSTEM_ID"
is "released" "$(field '"\(.status_name) \(.owner)"')" "Ready null"
refused 409 "No machine available" "$PROFILE" machines allocate system_id="$SILENT"
ok "$PROFILE" machines allocate system_id="$SYSTEM_ID"
is "allocated" "$(field '"\(.system_id) \(.status_name) \(.owner)"')" "$SYSTEM_ID Allocated admin"

step "Deploy it"
refused 409 "Commissioning" "$PROFILE" machine deploy "$SILENT"
ok "$PROFILE" machine deploy "$SYSTEM_ID"
is "deploying" "$(field '"\(.status_name) \(.install_kvm)"')" "Deploying false"
refused 409 "Deploying" "$PROFILE" machine commission "$SYSTEM_ID"
deploy_machine "$SYSTEM_ID"
wait_status "$SYSTEM_ID" Deployed 10
ok "$PROFILE" machine read "$SYSTEM_ID"
is "deployed" "$(field '"\(.status_name) \(.owner)"')" "Deployed admin"
refused 409 "Deployed" "$PROFILE" machine deploy "$SYSTEM_ID"
refused 409 "Deployed" "$PROFILE" machine abort "$SYSTEM_ID"

step "Deploy it as a KVM host"
ok "$PROFILE" machine release "$SYSTEM_ID"
is "released" "$(field .status_name)" "Ready"
ok "$PROFILE" machines allocate system_id="$SYSTEM_ID"
ok "$PROFILE" machine deploy "$SYSTEM_ID" install_kvm=True
is "deploying" "$(field '"\(.status_name) \(.install_kvm)"')" "Deploying true"
deploy_machine "$SYSTEM_ID"
wait_status "$SYSTEM_ID" Deployed 10
ok "$PROFILE" machine read "$SYSTEM_ID"
is "install_kvm" "$(field .install_kvm)" "true"
is "tagged as a KVM host" "$(field '.tag_names | index("kvm-host") != null')" "true"
misuse "missing SYSTEM_ID" "$PROFILE" machine deploy install_kvm=True

step "Enlist a machine that is already running a workload, and get its token"
ok "$PROFILE" machines create deployed=true hostname=mymachine architecture=amd64 mac_addresses=00:16:3e:df:35:bb power_type=manual
MY=$(field .system_id)
is "mymachine" "$(field '"\(.status_name) \(.owner) \(.architecture) \(.power_type)"')" "Deployed admin amd64/generic manual"
ok "$PROFILE" machine get-token "$MY"
is "token fields" "$(field 'keys | join(",")')" "consumer_key,token_key,token_secret"
is "empty token fields" "$(field '[.[] | select(type != "string" or . == "")] | length')" 0
auth=$(oauth "$(field .consumer_key)" "$(field .token_key)" "$(field .token_secret)")
is "the token is mymachine's" "$(curl -fsS -H "Authorization: $auth" "$MAAS_URL/metadata/latest/meta-data/local-hostname")" "mymachine.maas"
refused 404 "nosuch" "$PROFILE" machine get-token nosuch

step "Watch the silent machine fail after node_timeout"
wait_status "$SILENT" "Failed commissioning" 150
waited=$(($(date +%s) - SILENT_START))
note "failed after ${waited} s"
[ "$waited" -ge 55 ] || fail "the silent machine failed after $waited s, before node_timeout (60 s)"
ok "$PROFILE" machine read "$SILENT"
has "status_message" "$(field .status_message)" "node_timeout"
is "commissioning_status_name" "$(field .commissioning_status_name)" "Aborted"
ok "$PROFILE" machine read "$SYSTEM_ID"
is "the deployed machine is untouched" "$(field .status_name)" "Deployed"

step "Done in $(($(date +%s) - START)) s"
