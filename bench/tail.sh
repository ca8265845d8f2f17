#!/usr/bin/env bash
# Tail latency at a constant request rate: alias_auth against plain
# reverse_proxy in the same rounds.
#
#   bench/tail.sh [rounds] [seconds-per-run]
#
# The gateway of bench/run.sh (Caddy on CPU 0; the upstream and the load
# generator on CPU 1). Each round first measures plain reverse_proxy's
# maximum (wrk -c32 for 3 s), then sends half of that rate, open loop
# (lgbench rate: each request leaves when it is due, whatever the answers'
# speed, and its latency counts from then) over 32 kept-alive connections,
# as many as the maximum was measured with (Caddy's capacity halves at 256:
# a rate that is half of the maximum at 32 would saturate it), to each
# variant in turn, starting with another one each round. On a shared
# machine the capacity moves: measuring it every round keeps the rate at
# half of what the gateway can do then. Per round, each variant's p99 and p99.9 are divided
# by plain reverse_proxy's of the same round; the table shows the medians.
#
# Needs wrk (apt-get install wrk), taskset, curl, python3, Go, and either
# LINKGATE_DATABASE or the PostgreSQL server binaries. RATE fixes the rate
# instead of measuring the maximum every round.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rounds=${1:-5}
seconds=${2:-10}
need wrk taskset curl python3
build
start_postgres
gateway

variants=(reverse_proxy passcode jwt cookie)
declare -A url header
for v in "${variants[@]}"; do url[$v]=$(seg "$v" seg.ts); done
url[passcode]+="?passcode=bench-pass"
header[jwt]="Authorization: Bearer $jwt"
header[cookie]="Cookie: $(cookie_of cookie)"

# reverse_proxy's maximum, measured now: a 3 s wrk run.
maximum() { on 1 wrk -t1 -c32 -d3s "${url[reverse_proxy]}" | awk '/Requests\/sec/ {printf "%d", $2}'; }

declare -A p99 p999 r99 r999 p50 errors
declare -a rates
for round in $(seq "$rounds"); do
	declare -A a=() b=()
	rate=${RATE:-$(($(maximum) / 2))}
	rates+=("$rate")
	echo "round $round: sending $rate/s" >&2
	for i in "${!variants[@]}"; do
		v=${variants[$(((i + round) % ${#variants[@]}))]}
		out=$(on 1 "$work/lgbench" rate -rate "$rate" -conns 32 -duration "${seconds}s" -warmup 2s \
			${header[$v]:+-header "${header[$v]}"} "${url[$v]}" 2>/dev/null)
		eval "$(tr ' ' '\n' <<<"$out" | sed 's/^/local_/')"
		a[$v]=$local_p99_us b[$v]=$local_p999_us
		p50[$v]+=" $local_p50_us" p99[$v]+=" $local_p99_us" p999[$v]+=" $local_p999_us" errors[$v]+=" $local_errors"
		echo "round $round $v: p50 ${local_p50_us}µs p99 ${local_p99_us}µs p99.9 ${local_p999_us}µs, $local_errors errors" >&2
	done
	for v in "${variants[@]}"; do
		r99[$v]+=" $(awk -v x="${a[$v]}" -v y="${a[reverse_proxy]}" 'BEGIN {printf "%.3f", x / y}')"
		r999[$v]+=" $(awk -v x="${b[$v]}" -v y="${b[reverse_proxy]}" 'BEGIN {printf "%.3f", x / y}')"
	done
	unset a b
done

echo
printf '| %-13s | %8s | %8s | %10s | %15s | %17s | %6s |\n' variant "p50 µs" "p99 µs" "p99.9 µs" "p99 ÷ rev_proxy" "p99.9 ÷ rev_proxy" errors
printf '|%s|\n' "---|---:|---:|---:|---:|---:|---:"
for v in "${variants[@]}"; do
	printf '| %-13s | %8s | %8s | %10s | %15s | %17s | %6s |\n' "$v" "$(median <<<"${p50[$v]}")" "$(median <<<"${p99[$v]}")" \
		"$(median <<<"${p999[$v]}")" "$(median <<<"${r99[$v]}")" "$(median <<<"${r999[$v]}")" \
		"$(tr ' ' '\n' <<<"${errors[$v]}" | awk '{s += $1} END {print s + 0}')"
done
echo
echo "rates=${rates[*]} (per round) rounds=$rounds seconds=$seconds; $(machine)"
