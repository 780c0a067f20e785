#!/bin/sh
# Makes sure a PostgreSQL server for the tests runs on this machine and prints its URL.
# Installs Debian's postgresql package when it is missing (needs root and apt), starts the
# cluster, and creates the role and database `maastest`. Progress goes to stderr.
set -eu
say() { echo "postgres.sh: $*" >&2; }
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		say "PostgreSQL is not installed and cannot be installed here (need root and apt);"
		say "set MAAS_TEST_POSTGRES_URL or NO_POSTGRES=1"
		exit 1
	fi
	say "installing postgresql with apt"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
fi
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
	ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
	say "creating cluster $ver/main"
	pg_createcluster "$ver" main >&2
fi
pg_lsclusters -h | while read -r ver name port status rest; do
	if [ "$status" != online ]; then
		say "starting cluster $ver/$name"
		pg_ctlcluster "$ver" "$name" start >&2
	fi
done
port=$(pg_lsclusters -h | awk 'NR==1 {print $3}')
as_pg() { su postgres -s /bin/sh -c "$*"; }
i=0
until as_pg "psql -p $port -Atc 'select 1'" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 30 ] || { say "server on port $port does not answer"; exit 1; }
	sleep 1
done
if [ "$(as_pg "psql -p $port -Atc \"select 1 from pg_roles where rolname='maastest'\"")" != 1 ]; then
	as_pg "psql -p $port -qc \"create role maastest login password 'maastest'\"" >&2
fi
if [ "$(as_pg "psql -p $port -Atc \"select 1 from pg_database where datname='maastest'\"")" != 1 ]; then
	as_pg "createdb -p $port -O maastest maastest" >&2
else
	as_pg "psql -p $port -qc 'alter database maastest owner to maastest'" >&2
	as_pg "psql -p $port -d maastest -qc 'alter schema public owner to maastest'" >&2
fi
echo "postgres://maastest:maastest@127.0.0.1:$port/maastest?sslmode=disable"
