#!/usr/bin/env bash
# Compares alias_auth with plain reverse_proxy and forward_auth under load.
#
#   bench/run.sh [rounds] [seconds-per-run]
#
# Starts one Caddy (built from this checkout) with four sites in front of the
# same trivial upstream, each routing /live/* the same way so that only the
# check differs (plus one that only adds the four X-Linkgate-* headers
# alias_auth hands the upstream, to tell their cost from the check's), then
# runs wrk against each site in interleaved
# rounds, Caddy pinned to CPU 0 and wrk to CPU 1. Prints each variant's
# throughput as a ratio of plain reverse_proxy, and the CPU Caddy spent per
# request beyond what plain reverse_proxy costs. Ratios within one run are
# what to compare: the machines are shared and absolute numbers drift.
#
# Needs wrk (Debian: apt-get install wrk), taskset, and either
# LINKGATE_DATABASE pointing at a PostgreSQL it may use, or the PostgreSQL
# server binaries (initdb, postgres) to start a throw-away cluster.
set -euo pipefail

rounds=${1:-5}
seconds=${2:-5}
connections=${CONNECTIONS:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linkgate-bench.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${pgdata:-}" ]; then as_postgres "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

as_postgres() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }

echo "building caddy" >&2
(cd "$root" && go build -o "$work/caddy" ./cmd/caddy)

if [ -z "${LINKGATE_DATABASE:-}" ]; then
	pgbin=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")
	pgdata=$work/pg
	mkdir -p "$pgdata"
	[ "$(id -u)" = 0 ] && chown postgres "$work" "$pgdata"
	pgport=$(free_port)
	as_postgres "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust --no-sync >/dev/null
	as_postgres "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w \
		-o "-p $pgport -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
	export LINKGATE_DATABASE="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"
fi

upstream=$(free_port)
authport=$(free_port)
plain=$(free_port)
headers=$(free_port)
fwd=$(free_port)
pass=$(free_port)
jwtport=$(free_port)
cat >"$work/Caddyfile" <<CADDY
{
	admin off
	log {
		level ERROR
	}
	linkgate {
		database {env.LINKGATE_DATABASE}
	}
}
http://127.0.0.1:$upstream {
	respond "segment" 200
}
http://127.0.0.1:$authport {
	respond 200
}
http://127.0.0.1:$plain {
	handle /live/* {
		reverse_proxy 127.0.0.1:$upstream
	}
}
http://127.0.0.1:$headers {
	handle /live/* {
		request_header X-Linkgate-Alias abcdefghijkl
		request_header X-Linkgate-Type live
		request_header X-Linkgate-Role viewer
		request_header X-Linkgate-User ""
		reverse_proxy 127.0.0.1:$upstream
	}
}
http://127.0.0.1:$fwd {
	handle /live/* {
		forward_auth 127.0.0.1:$authport {
			uri /check
		}
		reverse_proxy 127.0.0.1:$upstream
	}
}
http://127.0.0.1:$pass {
	alias_api
	handle /live/* {
		alias_auth live {
			session_lifetime off
		}
		reverse_proxy 127.0.0.1:$upstream
	}
}
http://127.0.0.1:$jwtport {
	handle /live/* {
		alias_auth live {
			session_lifetime off
		}
		reverse_proxy 127.0.0.1:$upstream
	}
}
CADDY

token=$("$work/caddy" linkgate org create bench --json --config "$work/Caddyfile" 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
(cd "$work" && exec taskset -c 0 ./caddy run --config Caddyfile >"$work/caddy.log" 2>&1) &
pids+=($!)
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$upstream/" && break; sleep 0.1; done
caddy_pid=$(pgrep -n -f "$work/caddy run|./caddy run --config Caddyfile" || true)
[ -n "$caddy_pid" ] || caddy_pid=$(pgrep -n -x caddy)

secret=0123456789abcdef0123456789abcdef
alias=$(curl -sf -X POST "http://127.0.0.1:$pass/organization/api/v1/alias/create" -H "Authorization: $token" \
	-d "{\"type\":\"live\",\"passcode\":\"bench-pass\",\"jwt_secret\":\"$secret\",\"expired_at\":$(($(date +%s) + 86400))}" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
jwt=$(python3 - "$alias" "$secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = enc(json.dumps({"alias": sys.argv[1], "user_id": "bench", "exp": int(time.time()) + 3600}).encode())
sig = enc(hmac.new(sys.argv[2].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)

declare -A url=(
	[reverse_proxy]="http://127.0.0.1:$plain/live/$alias/seg.ts"
	[identity_headers]="http://127.0.0.1:$headers/live/$alias/seg.ts"
	[forward_auth]="http://127.0.0.1:$fwd/live/$alias/seg.ts"
	[alias_auth_passcode]="http://127.0.0.1:$pass/live/$alias/seg.ts?passcode=bench-pass"
	[alias_auth_jwt]="http://127.0.0.1:$jwtport/live/$alias/seg.ts"
)
declare -A header=([alias_auth_jwt]="Authorization: Bearer $jwt")
variants=(reverse_proxy identity_headers forward_auth alias_auth_passcode alias_auth_jwt)
for v in "${variants[@]}"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' ${header[$v]:+-H "${header[$v]}"} "${url[$v]}")
	[ "$code" = 200 ] || { echo "$v answers $code, not 200" >&2; exit 1; }
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$caddy_pid/stat"; }
hz=$(getconf CLK_TCK)
declare -A rps cpu
for round in $(seq "$rounds"); do
	# Each round starts with another variant, so no variant always runs
	# first (or right after the same neighbour).
	for i in "${!variants[@]}"; do
		v=${variants[$(((i + round) % ${#variants[@]}))]}
		before=$(cpu_ticks)
		out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" ${header[$v]:+-H "${header[$v]}"} "${url[$v]}")
		after=$(cpu_ticks)
		r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		n=$(awk '/requests in/ {print $1}' <<<"$out")
		rps[$v]="${rps[$v]:-} $r"
		cpu[$v]="${cpu[$v]:-} $(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.3f", t / hz / n * 1e6}')"
		echo "round $round $v: $r req/s" >&2
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
base_rps=$(median <<<"${rps[reverse_proxy]}")
base_cpu=$(median <<<"${cpu[reverse_proxy]}")
printf '\n%-22s %12s %8s %14s\n' variant "req/s(med)" ratio "extra CPU/req"
for v in "${variants[@]}"; do
	r=$(median <<<"${rps[$v]}")
	c=$(median <<<"${cpu[$v]}")
	awk -v v="$v" -v r="$r" -v b="$base_rps" -v c="$c" -v bc="$base_cpu" \
		'BEGIN {printf "%-22s %12.0f %8.3f %11.2f µs\n", v, r, r / b, c - bc}'
done
echo
echo "rounds=$rounds seconds=$seconds connections=$connections; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
