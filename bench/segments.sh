#!/usr/bin/env bash
# Segment throughput through alias_auth with playback tokens off and on.
#
#   bench/segments.sh [rounds] [seconds-per-run]
#
# Starts one Caddy (built from this checkout, on the embedded store) with a
# file_server upstream holding a playlist and a segment of SEGMENT_KB
# (default 1024) KiB, and three sites in front of it that differ only in
# what is measured: playback_tokens off and on for a player that keeps the
# session cookie (the writer that waits for the status is the only
# difference), and on for a player that keeps none and sends the playback
# token its playlist carried. wrk fetches the segment against each in
# interleaved rounds, Caddy pinned to CPU 0 and wrk to CPU 1; the ratios to
# "off" are what to compare, since the machines are shared.
#
# Needs wrk (Debian: apt-get install wrk), taskset, curl and python3.
set -euo pipefail

rounds=${1:-3}
seconds=${2:-5}
connections=${CONNECTIONS:-16}
segment_kb=${SEGMENT_KB:-1024}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linkgate-segments.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }

echo "building caddy" >&2
(cd "$root" && go build -o "$work/caddy" ./cmd/caddy)

mkdir -p "$work/media"
head -c $((segment_kb * 1024)) /dev/zero >"$work/media/seg.ts"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg.ts\n' >"$work/media/index.m3u8"

upstream=$(free_port)
off=$(free_port)
on=$(free_port)
cat >"$work/Caddyfile" <<CADDY
{
	admin off
	log {
		level ERROR
	}
	linkgate {
		database sqlite:$work/linkgate.db
	}
}
http://127.0.0.1:$upstream {
	uri path_regexp ^/live/[a-z0-9]+/ /
	root * $work/media
	file_server
}
http://127.0.0.1:$off {
	alias_api
	handle /live/* {
		alias_auth live {
			playback_tokens off
		}
		reverse_proxy 127.0.0.1:$upstream
	}
}
http://127.0.0.1:$on {
	handle /live/* {
		alias_auth live
		reverse_proxy 127.0.0.1:$upstream
	}
}
CADDY

token=$("$work/caddy" linkgate org create bench --json --database "sqlite:$work/linkgate.db" 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
(cd "$work" && exec taskset -c 0 ./caddy run --config Caddyfile >"$work/caddy.log" 2>&1) &
pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$upstream/live/x/index.m3u8" && break; sleep 0.1; done

alias=$(curl -sf -X POST "http://127.0.0.1:$off/organization/api/v1/alias/create" -H "Authorization: $token" \
	-d "{\"type\":\"live\",\"passcode\":\"bench-pass\",\"expired_at\":$(($(date +%s) + 86400))}" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
# The playlist as a viewer opens it: its Set-Cookie and its playback token.
curl -sf -D "$work/headers" -o "$work/playlist" "http://127.0.0.1:$on/live/$alias/index.m3u8?passcode=bench-pass"
cookie=$(grep -i '^set-cookie:' "$work/headers" | sed -E 's/^[^:]*: *([^;]*).*/\1/')
lgt=$(grep -o 'lgt=[A-Za-z0-9_-]*' "$work/playlist" | head -n1)
[ -n "$cookie" ] && [ -n "$lgt" ] || { echo "no cookie or no playback token from the playlist" >&2; exit 1; }

declare -A url=(
	[cookie_tokens_off]="http://127.0.0.1:$off/live/$alias/seg.ts"
	[cookie_tokens_on]="http://127.0.0.1:$on/live/$alias/seg.ts"
	[playback_token]="http://127.0.0.1:$on/live/$alias/seg.ts?$lgt"
)
declare -A header=([cookie_tokens_off]="Cookie: $cookie" [cookie_tokens_on]="Cookie: $cookie")
variants=(cookie_tokens_off cookie_tokens_on playback_token)
for v in "${variants[@]}"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' ${header[$v]:+-H "${header[$v]}"} "${url[$v]}")
	[ "$code" = 200 ] || { echo "$v answers $code, not 200" >&2; exit 1; }
done

declare -A rps
for round in $(seq "$rounds"); do
	for i in "${!variants[@]}"; do
		v=${variants[$(((i + round) % ${#variants[@]}))]}
		out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" ${header[$v]:+-H "${header[$v]}"} "${url[$v]}")
		r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		rps[$v]="${rps[$v]:-} $r"
		echo "round $round $v: $r req/s" >&2
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
base=$(median <<<"${rps[cookie_tokens_off]}")
printf '\n%-20s %12s %10s %8s\n' variant "req/s(med)" "MiB/s" ratio
for v in "${variants[@]}"; do
	r=$(median <<<"${rps[$v]}")
	awk -v v="$v" -v r="$r" -v b="$base" -v kb="$segment_kb" \
		'BEGIN {printf "%-20s %12.0f %10.0f %8.3f\n", v, r, r * kb / 1024, r / b}'
done
echo
echo "rounds=$rounds seconds=$seconds connections=$connections segment=${segment_kb}KiB; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
