#!/usr/bin/env bash
# A large catalogue: a million aliases across a thousand organizations on
# PostgreSQL, and how the cost of a request grows with the aliases cached
# and the clients connected.
#
#   bench/catalogue.sh [aliases] [parts...]
#
# aliases defaults to 1000000; parts to all of: list cold heap growth create.
#   list    walks one organization's 100,000 aliases (a tenth of the
#           catalogue, the rest spread over 999 others) page by page through
#           the API, 50 a page, and compares the last pages' time with the
#           first's.
#   cold    starts a node with nothing cached and asks it once for each of
#           10,000 distinct aliases (all of them, if the catalogue has fewer;
#           32 clients); counts the store's queries
#           (pg_stat_statements) and records the latency percentiles.
#   heap    asks that node for every alias of the catalogue (64 clients), so
#           that all are cached (cache_size is the catalogue's size), and
#           reads its live Go heap after a forced collection, less what it
#           held before the first request.
#   growth  on that node: Caddy's CPU per request, alias_auth (passcode)
#           and plain reverse_proxy side by side, with requests spread at
#           random over 1,000, 100,000 and all cached aliases (32 clients),
#           and with 1, 100 and 10,000 clients on 1,000 aliases; 5 s each,
#           three rounds alternating which variant goes first, medians.
#   create  16 organizers, each with its own organization's token, create
#           aliases through the API for 10 s; pgbench inserts the same rows
#           straight into the same table with 16 clients for 10 s (the
#           server's own limit); the organizers again with the node's pool
#           at 16 connections (pool_max_conns=16 in the database URL); then
#           the same 16 organizers on the embedded SQLite store.
#
# Always starts its own PostgreSQL cluster (from the newest
# /usr/lib/postgresql/*/bin, as the postgres user when root) with
# pg_stat_statements loaded and fsync off, since the figures compare the
# gateway with the server, not the disk. The node runs as in production
# except cache_ttl 1h (the default 60s would expire the first aliases
# before the last are loaded) and reverse_proxy's max_conns_per_host 512
# (10,000 clients must not need 10,000 upstream connections: Caddy would
# run out of file descriptors). Heavy: run it when the machine is
# otherwise idle. Needs psql and pgbench (postgresql-client,
# postgresql-contrib), taskset, curl, python3, Go.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

aliases=${1:-1000000}
shift || true
parts=${*:-list cold heap growth create}
has() { [[ " $parts " == *" $1 "* ]]; }
need taskset curl python3 psql pgbench
ulimit -n "$(ulimit -Hn)"
build
unset LINKGATE_DATABASE
start_postgres shared_preload_libraries=pg_stat_statements shared_buffers=1GB max_wal_size=4GB
psql -qc 'CREATE EXTENSION pg_stat_statements'
"$work/caddy" linkgate migrate --database "$LINKGATE_DATABASE" >/dev/null 2>&1

echo "loading $aliases aliases" >&2
org=$("$work/caddy" linkgate org create listed --json --database "$LINKGATE_DATABASE" 2>/dev/null)
listed_org=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["org_id"])' "$org")
listed_token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$org")
big=$((aliases / 10))
load_start=$(date +%s.%N)
psql -q -v ON_ERROR_STOP=1 <<SQL
ALTER TABLE aliases DISABLE TRIGGER aliases_notify;
INSERT INTO organizations (id, name) SELECT 'org_bench' || lpad(g::text, 7, '0'), 'bench ' || g FROM generate_series(1, 999) g;
-- Alias g: the listed organization's for the first tenth, else one of the
-- 999 others; inserted a millisecond apart, oldest first.
INSERT INTO aliases (id, org_id, type, name, passcode, expired_at, inserted_at, updated_at)
SELECT lpad(g::text, 12, '0'),
       CASE WHEN g <= $big THEN '$listed_org' ELSE 'org_bench' || lpad((1 + g % 999)::text, 7, '0') END,
       'live', 'alias ' || g, 'bench-pass', now() + interval '30 days',
       now() - ($aliases - g) * interval '1 ms', now()
FROM generate_series(1, $aliases) g;
ALTER TABLE aliases ENABLE TRIGGER aliases_notify;
VACUUM ANALYZE aliases;
SQL
load_time=$(awk -v s="$load_start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
psql -Atc "SELECT id FROM aliases ORDER BY md5(id)" >"$work/ids"
echo "loaded in $load_time s: $(psql -Atc 'SELECT count(*) FROM aliases') aliases, $(psql -Atc 'SELECT count(*) FROM organizations') organizations" >&2

upstream=$(free_port)
admin=$(free_port)
gated=$(free_port)
plain=$(free_port)
start_upstream "$upstream"
node_config() { # database
	cat <<-CADDY
	{
		admin 127.0.0.1:$admin
		log {
			level ERROR
		}
		linkgate {
			database $1
			cache_size $aliases
			cache_ttl 1h
		}
	}
	http://127.0.0.1:$gated {
		alias_api
		handle /live/* {
			alias_auth live {
				session_lifetime off
			}
			reverse_proxy 127.0.0.1:$upstream {
				transport http {
					max_conns_per_host 512
				}
			}
		}
	}
	http://127.0.0.1:$plain {
		handle /live/* {
			reverse_proxy 127.0.0.1:$upstream {
				transport http {
					max_conns_per_host 512
				}
			}
		}
	}
	CADDY
}
node_config '{env.LINKGATE_DATABASE}' >"$work/Caddyfile"
start_caddy Caddyfile
wait_http "http://127.0.0.1:$plain/"
kv() { tr ' ' '\n' <<<"$1" | sed "s/^/$2/"; }
heap_alloc() {
	curl -s -o /dev/null "http://127.0.0.1:$admin/debug/pprof/heap?gc=1"
	curl -s "http://127.0.0.1:$admin/debug/vars" | python3 -c 'import json,sys; print(json.load(sys.stdin)["memstats"]["HeapAlloc"])'
}
heap_before=$(heap_alloc)
out_table=()

if has list; then
	echo "walking the listed organization's $big aliases" >&2
	python3 - "http://127.0.0.1:$gated" "$listed_token" 5 >"$work/list" <<'PY'
import json, sys, time, urllib.request
base, token, walks = sys.argv[1], sys.argv[2], int(sys.argv[3])
for walk in range(walks):
    after, page, times = None, 0, []
    while True:
        url = base + "/organization/api/v1/aliases?limit=50" + (f"&after={after}" if after else "")
        req = urllib.request.Request(url, headers={"Authorization": token})
        t = time.perf_counter()
        body = json.load(urllib.request.urlopen(req))
        times.append(time.perf_counter() - t)
        after = body["after"]
        if not after:
            break
    print(" ".join(f"{x * 1e3:.3f}" for x in times))
PY
	pages=$(head -n1 "$work/list" | wc -w)
	first=$(awk '{for (i = 1; i <= 10; i++) printf "%s ", $i}' "$work/list" | median)
	last=$(awk '{for (i = NF - 9; i <= NF; i++) printf "%s ", $i}' "$work/list" | median)
	out_table+=("listing: $pages pages of 50 per walk, 5 walks; median of the first 10 pages: $first ms, of the last 10: $last ms, last ÷ first $(awk -v a="$last" -v b="$first" 'BEGIN {printf "%.2f", a / b}')")
fi

if has cold; then
	stop_caddy
	start_caddy Caddyfile
	wait_http "http://127.0.0.1:$plain/"
	heap_before=$(heap_alloc)
	psql -qAtc 'SELECT pg_stat_statements_reset()' >/dev/null
	cold=$((aliases < 10000 ? aliases : 10000))
	out=$(on 1 "$work/lgbench" hit -c 32 -n "$cold" -ids "$work/ids" "http://127.0.0.1:$gated/live/%s/seg.ts?passcode=bench-pass")
	eval "$(kv "$out" c_)"
	psql -Atc "SELECT calls || ' × ' || left(substring(regexp_replace(query, '\s+', ' ', 'g') from '(?:INSERT|UPDATE|DELETE|FROM) .*'), 50)
		FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%' ORDER BY calls DESC LIMIT 5" >"$work/statements"
	# Every statement that reads the aliases table, whatever else it reads.
	alias_queries=$(psql -Atc "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE '%FROM aliases%'")
	all_queries=$(psql -Atc "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%'")
	out_table+=("cold node: $cold distinct aliases, 32 clients: ${c_rps} req/s, p50 ${c_p50_us} µs, p99 ${c_p99_us} µs, p99.9 ${c_p999_us} µs, ${c_errors} errors; statements reading aliases: $alias_queries, statements in all: $all_queries")
	out_table+=("  the node's most frequent statements: $(sed 's/$/; /' "$work/statements" | tr -d '\n')")
fi

if has heap || has growth; then
	echo "asking for all $aliases aliases" >&2
	out=$(on 1 "$work/lgbench" hit -c 64 -n "$aliases" -ids "$work/ids" "http://127.0.0.1:$gated/live/%s/seg.ts?passcode=bench-pass")
	eval "$(kv "$out" w_)"
	heap_after=$(heap_alloc)
	loads_before=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^linkgate_cache_loads_total\{cache="aliases"\}/ {print $2}')
	on 1 "$work/lgbench" hit -c 32 -duration 5s -ids "$work/ids" "http://127.0.0.1:$gated/live/%s/seg.ts?passcode=bench-pass" >"$work/resample"
	loads_after=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^linkgate_cache_loads_total\{cache="aliases"\}/ {print $2}')
	eval "$(kv "$(cat "$work/resample")" s_)"
	out_table+=("heap: $aliases aliases asked for in ${w_seconds} s (${w_rps}/s, ${w_errors} errors); live heap $((heap_before >> 20)) MiB before, $((heap_after >> 20)) MiB after: $(((heap_after - heap_before) / aliases)) B per alias; then $s_requests requests at random over all: $(awk -v a="$loads_after" -v b="$loads_before" 'BEGIN {printf "%.0f", a - b}') store loads ($(awk -v a="$loads_after" -v b="$loads_before" -v n="$s_requests" 'BEGIN {printf "%.2f", (a - b) / n * 100}') % of requests missed the cache)")
fi

if has growth; then
	hz=$(getconf CLK_TCK)
	growth=("| aliases asked for | clients | alias_auth req/s | reverse_proxy req/s | alias_auth CPU/req | reverse_proxy CPU/req | extra CPU/req | alias_auth p99 | reverse_proxy p99 |"
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for spec in 1000:32 100000:32 "$aliases":32 1000:1 1000:100 1000:10000; do
		n=${spec%:*} c=${spec#*:}
		[ "$n" -le "$aliases" ] || continue
		declare -A g_cpu=() g_rps=() g_p99=()
		# Three rounds, alternating which variant goes first.
		for round in 1 2 3; do
			order=(gated plain)
			[ $((round % 2)) = 0 ] && order=(plain gated)
			for v in "${order[@]}"; do
				p=$gated
				[ "$v" = plain ] && p=$plain
				before=$(cpu_ticks "$caddy_pid")
				out=$(on 1 "$work/lgbench" hit -c "$c" -sources 20 -duration 5s -first "$n" -ids "$work/ids" \
					"http://127.0.0.1:$p/live/%s/seg.ts?passcode=bench-pass" 2>/dev/null)
				after=$(cpu_ticks "$caddy_pid")
				eval "$(kv "$out" h_)"
				g_cpu[$v]+=" $(awk -v t=$((after - before)) -v hz="$hz" -v n="$h_requests" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')"
				g_rps[$v]+=" $h_rps" g_p99[$v]+=" $h_p99_us"
				echo "growth $n aliases, $c clients, $v: $out" >&2
			done
		done
		for v in gated plain; do
			g_cpu[$v]=$(median <<<"${g_cpu[$v]}") g_rps[$v]=$(median <<<"${g_rps[$v]}") g_p99[$v]=$(median <<<"${g_p99[$v]}")
		done
		growth+=("| $n | $c | ${g_rps[gated]} | ${g_rps[plain]} | ${g_cpu[gated]} µs | ${g_cpu[plain]} µs | $(awk -v a="${g_cpu[gated]}" -v b="${g_cpu[plain]}" 'BEGIN {printf "%.1f", a - b}') µs | ${g_p99[gated]} µs | ${g_p99[plain]} µs |")
	done
fi

if has create; then
	: >"$work/tokens"
	for i in $(seq 16); do org_token "organizer$i" >>"$work/tokens"; done
	out=$("$work/lgbench" create -c 16 -duration 10s -tokens "$work/tokens" "http://127.0.0.1:$gated")
	eval "$(kv "$out" k_)"
	cat >"$work/insert.sql" <<-SQL
	\set n random(1, 1000000000000)
	INSERT INTO aliases (id, org_id, type, name, passcode, expired_at) VALUES ('p' || :n, '$listed_org', 'live', 'bench', 'bench-pass', now() + interval '1 day') RETURNING id, version, inserted_at;
	SQL
	# The same with a pool of 16 connections instead of pgx's default
	# (4 on a node whose Caddy sees one CPU), set in the database URL.
	stop_caddy
	node_config "$LINKGATE_DATABASE&pool_max_conns=16" >"$work/Caddyfile.pool16"
	start_caddy Caddyfile.pool16
	wait_http "http://127.0.0.1:$plain/"
	out=$("$work/lgbench" create -c 16 -duration 10s -tokens "$work/tokens" "http://127.0.0.1:$gated")
	eval "$(kv "$out" m_)"
	pg_rate=$(pgbench -n -c 16 -j 2 -T 10 -M prepared -f "$work/insert.sql" 2>/dev/null | awk '/^tps/ {printf "%.0f", $3; exit}')
	stop_caddy
	sqlite="sqlite:$work/lg.db"
	: >"$work/sqlite-tokens"
	for i in $(seq 16); do
		"$work/caddy" linkgate org create "organizer$i" --json --database "$sqlite" 2>/dev/null |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' >>"$work/sqlite-tokens"
	done
	node_config "$sqlite" >"$work/Caddyfile.sqlite"
	start_caddy Caddyfile.sqlite
	wait_http "http://127.0.0.1:$plain/"
	out=$("$work/lgbench" create -c 16 -duration 10s -tokens "$work/sqlite-tokens" "http://127.0.0.1:$gated")
	eval "$(kv "$out" q_)"
	out_table+=("create, 16 organizers, 10 s: PostgreSQL ${k_rps}/s (p50 ${k_p50_us} µs, p99 ${k_p99_us} µs, ${k_errors} errors); pgbench's insert of the same row, 16 clients: ${pg_rate}/s; ratio $(awk -v a="$k_rps" -v b="$pg_rate" 'BEGIN {printf "%.2f", a / b}'); with pool_max_conns=16 in the URL ${m_rps}/s (ratio $(awk -v a="$m_rps" -v b="$pg_rate" 'BEGIN {printf "%.2f", a / b}'), p99 ${m_p99_us} µs, ${m_errors} errors); embedded SQLite ${q_rps}/s (p50 ${q_p50_us} µs, p99 ${q_p99_us} µs, ${q_errors} errors)")
fi

echo
printf '%s\n' "${out_table[@]}"
if has growth; then echo; printf '%s\n' "${growth[@]}"; fi
echo
echo "aliases=$aliases (loaded in $load_time s) parts=$parts; $(machine)"
