#!/usr/bin/env bash
# Soaks one linkgate node: steady viewer load, alias churn (creates,
# updates, deletes, user revocations) and a config reload every minute,
# for 30 minutes or the given duration.
#
#   bench/soak.sh [duration]      # bench/soak.sh 5m for a shorter run
#
# Samples the node's resident memory, goroutines, open file descriptors and
# PostgreSQL connections every 5 s into bench/soak.csv, plots them to
# bench/soak.png and prints a summary; a leak shows as a line that keeps
# climbing. Not run in CI.
#
# Needs either LINKGATE_DATABASE pointing at a PostgreSQL database it may
# use, or the PostgreSQL server binaries (initdb, postgres) to start a
# throw-away cluster. VIEWERS sets the number of viewer connections, each
# asking for a segment every 10 ms (default 4).
set -euo pipefail

duration=${1:-30m}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linkgate-soak.XXXXXX)
cleanup() {
	if [ -n "${pgdata:-}" ]; then as_postgres "$pgbin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

as_postgres() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

echo "building caddy and the soak driver" >&2
(cd "$root" && go build -o "$work/caddy" ./cmd/caddy && go build -o "$work/soak" ./bench/soak)

if [ -z "${LINKGATE_DATABASE:-}" ]; then
	initdb=$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")
	pgbin=$(dirname "$initdb")
	pgdata=$work/pg
	mkdir -p "$pgdata"
	[ "$(id -u)" = 0 ] && chown postgres "$work" "$pgdata"
	pgport=$(free_port)
	as_postgres "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust --no-sync >/dev/null
	as_postgres "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w \
		-o "-p $pgport -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
	as_postgres "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres linkgate
	export LINKGATE_DATABASE="postgres://postgres@127.0.0.1:$pgport/linkgate?sslmode=disable"
fi

"$work/soak" -caddy "$work/caddy" -duration "$duration" -viewers "${VIEWERS:-4}" \
	-csv "$root/bench/soak.csv" -png "$root/bench/soak.png"
echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(go version)"
