#!/usr/bin/env bash
# Many open WebSocket connections through alias_auth, against plain
# reverse_proxy.
#
#   bench/ws.sh [connections] [rounds]      # default 10000 connections, 3 rounds
#
# Each round starts a fresh Caddy (CPU 0) twice: once holding the
# connections through plain reverse_proxy, once through alias_auth (by
# passcode, over 10 conference aliases), to a WebSocket upstream of its own
# (lgbench upstream, CPU 1), the clients (lgbench ws) on CPU 1 too, from
# 127.0.0.1-127.0.0.20. It reports the rate at which the connections were
# admitted, Caddy's memory per held connection (live Go heap and stacks
# after a forced collection, read from the admin API; and resident memory),
# and, for alias_auth, what happens to one alias's connections when the
# alias is deleted through the API: the time until the gateway has closed
# them all (or how many are still open after 10 s), and that the other
# aliases' connections stay open.
#
# Caddy holds two file descriptors per proxied connection (the client's and
# the upstream's): the script raises the limit to what it needs (the soft
# one up to the hard one, or both when run as root) and, if that is too
# low for the connections asked for, holds fewer and says so.
#
# HEAP_PROFILE=1 saves Caddy's heap profile, taken while the connections
# are held, to bench/profiles/ws-VARIANT.heap.
#
# Needs taskset, curl, python3, Go, and either LINKGATE_DATABASE or the
# PostgreSQL server binaries.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

want=${1:-10000}
rounds=${2:-3}
need taskset curl python3
# Root may raise the hard limit too; anyone may raise the soft one to it.
ulimit -n $((2 * want + 400)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
conns=$(((($(ulimit -n) - 200) / 2) < want ? ($(ulimit -n) - 200) / 2 : want))
[ "$conns" -lt "$want" ] && echo "the file descriptor limit is $(ulimit -n): holding $conns connections, not $want" >&2
build
start_postgres

upstream=$(free_port)
admin=$(free_port)
plain=$(free_port)
gated=$(free_port)
cat >"$work/Caddyfile" <<CADDY
{
	admin 127.0.0.1:$admin
	log {
		level ERROR
	}
	linkgate {
		database {env.LINKGATE_DATABASE}
	}
}
http://127.0.0.1:$plain {
	handle /conference/* {
		reverse_proxy 127.0.0.1:$upstream
	}
}
http://127.0.0.1:$gated {
	alias_api
	handle /conference/* {
		alias_auth conference
		reverse_proxy 127.0.0.1:$upstream
	}
}
CADDY
token=$(org_token bench)
start_upstream "$upstream"

declare -A rate heap rss
for round in $(seq "$rounds"); do
	for v in reverse_proxy alias_auth; do
		start_caddy Caddyfile
		wait_http "http://127.0.0.1:$plain/"
		urls=() del=()
		if [ "$v" = alias_auth ]; then
			for _ in $(seq 10); do
				a=$(create_alias "http://127.0.0.1:$gated" "$token" conference)
				urls+=("ws://127.0.0.1:$gated/conference/$a/ws?passcode=bench-pass")
			done
			del=(-delete "http://127.0.0.1:$gated/organization/api/v1/alias/delete/${urls[0]#*/conference/}" -token "$token")
			del[1]=${del[1]%%/ws\?*}
		else
			urls=("ws://127.0.0.1:$plain/conference/abcdefghijkl/ws")
		fi
		prof=()
		if [ -n "${HEAP_PROFILE:-}" ]; then
			mkdir -p "$root/bench/profiles"
			prof=(-heap-profile "$root/bench/profiles/ws-$v.heap")
		fi
		out=$(on 1 "$work/lgbench" ws "${prof[@]}" -n "$conns" -c 64 -sources 20 -admin "http://127.0.0.1:$admin" -pid "$caddy_pid" \
			"${del[@]}" "${urls[@]}")
		echo "round $round $v: $out" >&2
		eval "$(tr ' ' '\n' <<<"$out" | sed 's/^/r_/')"
		[ "$r_failed" = 0 ] || { echo "$v: $r_failed connections failed" >&2; exit 1; }
		rate[$v]+=" $r_admit_rate"
		heap[$v]+=" $((r_heap_per_conn + r_stack_per_conn))"
		rss[$v]+=" $r_rss_per_conn"
		if [ "$v" = alias_auth ]; then
			closing+=("round $round: ${r_deleted_closed} of ${r_deleted_conns} connections of the deleted alias closed (in ${r_close_seconds} s); ${r_others_open} of ${r_others} others open")
		fi
		stop_caddy
	done
done

echo
printf '| %-13s | %11s | %18s | %17s |\n' variant "admitted/s" "heap+stacks/conn" "resident/conn"
printf '|%s|\n' "---|---:|---:|---:"
for v in reverse_proxy alias_auth; do
	printf '| %-13s | %11.0f | %16.0f B | %15.0f B |\n' "$v" "$(median <<<"${rate[$v]}")" "$(median <<<"${heap[$v]}")" "$(median <<<"${rss[$v]}")"
done
awk -v a="$(median <<<"${heap[alias_auth]}")" -v b="$(median <<<"${heap[reverse_proxy]}")" \
	-v c="$(median <<<"${rss[alias_auth]}")" -v d="$(median <<<"${rss[reverse_proxy]}")" \
	'BEGIN {printf "| %-13s | %11s | %16.0f B | %15.0f B |\n", "difference", "", a - b, c - d}'
echo
printf '%s\n' "${closing[@]}"
echo
echo "connections=$conns rounds=$rounds; $(machine)"
