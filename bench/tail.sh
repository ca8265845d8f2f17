#!/usr/bin/env bash
# Tail latency at a constant request rate: alias_auth against plain
# reverse_proxy in the same rounds.
#
#   bench/tail.sh [rounds] [seconds-per-run]
#
# The gateway of bench/run.sh (Caddy on CPU 0; the upstream and the load
# generator on CPU 1). First finds plain reverse_proxy's maximum (wrk -c32,
# the median of three 5 s runs), then sends half of that rate, open loop
# (lgbench rate: each request leaves when it is due, whatever the answers'
# speed, and its latency counts from then), to each variant in turn, in
# interleaved rounds. Per round, each variant's p99 and p99.9 are divided
# by plain reverse_proxy's of the same round; the table shows the medians.
#
# Needs wrk (apt-get install wrk), taskset, curl, python3, Go, and either
# LINKGATE_DATABASE or the PostgreSQL server binaries. RATE fixes the rate
# instead of measuring the maximum.
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

if [ -z "${RATE:-}" ]; then
	max=()
	for _ in 1 2 3; do
		max+=("$(taskset -c 1 wrk -t1 -c32 -d5s "${url[reverse_proxy]}" | awk '/Requests\/sec/ {print $2}')")
	done
	RATE=$(echo "${max[*]}" | median | awk '{printf "%d", $1 / 2}')
	echo "reverse_proxy's maximum: ${max[*]} req/s; sending $RATE/s" >&2
fi

declare -A p99 p999 r99 r999 p50 errors
for round in $(seq "$rounds"); do
	declare -A a=() b=()
	for i in "${!variants[@]}"; do
		v=${variants[$(((i + round) % ${#variants[@]}))]}
		out=$(taskset -c 1 "$work/lgbench" rate -rate "$RATE" -duration "${seconds}s" -warmup 2s \
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
echo "rate=$RATE/s rounds=$rounds seconds=$seconds; $(machine)"
