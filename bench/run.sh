#!/usr/bin/env bash
# Compares alias_auth with plain reverse_proxy, reverse_proxy adding the
# same identity headers, and forward_auth, side by side in one run.
#
#   bench/run.sh [small|segments] [rounds] [seconds-per-run]
#
# small (default): small responses, every variant of the table below;
# wrk -c32. segments: 1 MiB and 4 MiB responses, 64 viewers (wrk -c64),
# plain reverse_proxy against alias_auth with the session cookie a player
# carries.
#
# One Caddy built from this checkout, pinned to CPU 0, with one site per
# variant, each routing /live/* to the same upstream (lgbench upstream);
# the upstream and wrk share CPU 1, so the gateway's core does nothing but
# the gateway's work. Rounds are interleaved: each runs every variant once,
# starting with another one each round. same_passcode, same_jwt and
# same_cookie send the requests of passcode, jwt and cookie to
# header_up_strip (header_up that also drops those credentials, as
# alias_auth does). Per round, each variant's throughput is divided by
# plain reverse_proxy's, by the identity headers variant's and, for an
# alias_auth variant, by the same_* variant sent the same bytes (what the
# check itself costs); the table shows the medians of those ratios, the
# CPU Caddy spent per request beyond plain reverse_proxy's, and "CPU
# ratio": plain reverse_proxy's CPU per request divided by the
# variant's, per round, median (the throughput ratio Caddy would show with
# its core to itself: on a shared machine, other processes take turns on
# CPU 0 and move throughput more than CPU per request). "Caddy CPU" is the
# cores Caddy used: about 1 when it is what limits the throughput.
#
# Needs wrk (apt-get install wrk), taskset, curl, python3, Go, and either
# LINKGATE_DATABASE or the PostgreSQL server binaries (initdb, postgres)
# for a throw-away cluster. CONNECTIONS overrides wrk's connections.
# PROFILE=VARIANT saves a 10 s CPU profile of Caddy under that variant's
# load to bench/profiles/VARIANT.pprof (go tool pprof reads it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mode=${1:-small}
rounds=${2:-5}
seconds=${3:-5}
case $mode in
small) connections=${CONNECTIONS:-32} ;;
segments) connections=${CONNECTIONS:-64} ;;
*) echo "mode is small or segments, not $mode" >&2; exit 2 ;;
esac
need wrk taskset curl python3
build
start_postgres

gateway

# The URL of each variant, and the header it sends.
declare -A url header
if [ "$mode" = small ]; then
	variants=(reverse_proxy header_up forward_auth passcode jwt cookie passcode_none cookie_none
		same_passcode same_jwt same_cookie)
	for v in "${variants[@]}"; do
		site=$v
		[[ $v == same_* ]] && site=header_up_strip
		url[$v]=$(seg "$site" seg.ts)
	done
	for v in passcode passcode_none same_passcode; do url[$v]+="?passcode=bench-pass"; done
	header[jwt]="Authorization: Bearer $jwt"
	header[cookie]="Cookie: $(cookie_of cookie)"
	header[cookie_none]="Cookie: $(cookie_of cookie_none)"
	header[same_jwt]=${header[jwt]}
	header[same_cookie]=${header[cookie]}
else
	variants=()
	for size in 1m 4m; do
		variants+=("reverse_proxy_$size" "cookie_$size")
		url[reverse_proxy_$size]=$(seg reverse_proxy "$size.ts")
		url[cookie_$size]=$(seg cookie "$size.ts")
		header[cookie_$size]="Cookie: $(cookie_of cookie)"
	done
fi
for v in "${variants[@]}"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' ${header[$v]:+-H "${header[$v]}"} "${url[$v]}")
	[ "$code" = 200 ] || { echo "$v answers $code, not 200" >&2; exit 1; }
done

if [ -n "${PROFILE:-}" ]; then
	mkdir -p "$root/bench/profiles"
	echo "profiling $PROFILE for 10 s" >&2
	on 1 wrk -t1 -c"$connections" -d12s ${header[$PROFILE]:+-H "${header[$PROFILE]}"} "${url[$PROFILE]}" >/dev/null &
	wrk_pid=$!
	sleep 1
	curl -s -o "$root/bench/profiles/$PROFILE.pprof" "http://127.0.0.1:$admin/debug/pprof/profile?seconds=10"
	wait "$wrk_pid"
fi

hz=$(getconf CLK_TCK)
declare -A rps bytes cpu util ratio fair cpuratio samereq
for round in $(seq "$rounds"); do
	declare -A this=() thiscpu=()
	for i in "${!variants[@]}"; do
		v=${variants[$(((i + round) % ${#variants[@]}))]}
		before=$(cpu_ticks "$caddy_pid")
		out=$(on 1 wrk -t1 -c"$connections" -d"${seconds}s" ${header[$v]:+-H "${header[$v]}"} "${url[$v]}")
		after=$(cpu_ticks "$caddy_pid")
		r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		n=$(awk '/requests in/ {print $1}' <<<"$out")
		if grep -q 'Non-2xx' <<<"$out"; then echo "$v: $(grep Non-2xx <<<"$out")" >&2; exit 1; fi
		this[$v]=$r
		rps[$v]+=" $r"
		c=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.3f", t / hz / n * 1e6}')
		cpu[$v]+=" $c"
		thiscpu[$v]=$c
		util[$v]+=" $(awk -v t=$((after - before)) -v hz="$hz" -v s="$seconds" 'BEGIN {printf "%.2f", t / hz / s}')"
		echo "round $round $v: $r req/s" >&2
	done
	for v in "${variants[@]}"; do
		base=reverse_proxy
		[ "$mode" = segments ] && base=reverse_proxy_${v##*_}
		ratio[$v]+=" $(awk -v a="${this[$v]}" -v b="${this[$base]}" 'BEGIN {printf "%.4f", a / b}')"
		cpuratio[$v]+=" $(awk -v a="${thiscpu[$v]}" -v b="${thiscpu[$base]}" 'BEGIN {printf "%.4f", b / a}')"
		if [ "$mode" = small ]; then
			fair[$v]+=" $(awk -v a="${this[$v]}" -v b="${this[header_up]}" 'BEGIN {printf "%.4f", a / b}')"
			same=same_${v%_none}
			[ -n "${this[$same]:-}" ] &&
				samereq[$v]+=" $(awk -v a="${this[$v]}" -v b="${this[$same]}" 'BEGIN {printf "%.4f", a / b}')"
		fi
	done
	unset this thiscpu
done

echo
if [ "$mode" = small ]; then
	base_cpu=$(median <<<"${cpu[reverse_proxy]}")
	printf '| %-14s | %9s | %16s | %15s | %18s | %13s | %16s | %9s |\n' variant "req/s" "÷ reverse_proxy" "÷ header_up" "÷ same request" "extra CPU/req" "CPU ratio" "Caddy CPU"
	printf '|%s|\n' "---|---:|---:|---:|---:|---:|---:|---:"
	for v in "${variants[@]}"; do
		s=
		[ -n "${samereq[$v]:-}" ] && s=$(median <<<"${samereq[$v]}")
		awk -v v="$v" -v r="$(median <<<"${rps[$v]}")" -v q="$(median <<<"${ratio[$v]}")" -v f="$(median <<<"${fair[$v]}")" \
			-v s="$s" -v c="$(median <<<"${cpu[$v]}")" -v bc="$base_cpu" -v u="$(median <<<"${util[$v]}")" -v cr="$(median <<<"${cpuratio[$v]}")" \
			'BEGIN {printf "| %-14s | %9.0f | %16.3f | %15.3f | %18s | %10.2f µs | %16.3f | %9.2f |\n", v, r, q, f, (s == "" ? "" : sprintf("%.3f", s)), c - bc, cr, u}'
	done
else
	printf '| %-18s | %9s | %10s | %16s | %16s | %9s |\n' variant "req/s" "MiB/s" "÷ reverse_proxy" "CPU ratio" "Caddy CPU"
	printf '|%s|\n' "---|---:|---:|---:|---:|---:"
	for v in "${variants[@]}"; do
		mib=1
		[ "${v##*_}" = 4m ] && mib=4
		awk -v v="$v" -v r="$(median <<<"${rps[$v]}")" -v m="$mib" -v q="$(median <<<"${ratio[$v]}")" -v u="$(median <<<"${util[$v]}")" \
			-v cr="$(median <<<"${cpuratio[$v]}")" \
			'BEGIN {printf "| %-18s | %9.1f | %10.0f | %16.3f | %16.3f | %9.2f |\n", v, r, r * m, q, cr, u}'
	done
fi
echo
echo "mode=$mode rounds=$rounds seconds=$seconds connections=$connections; $(machine)"
