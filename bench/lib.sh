# Shared by the scripts in bench/: sourced, not run.
#
# Sets root and work (a temporary directory removed on exit), builds Caddy
# from this checkout and the load tools of bench/cmd/lgbench into $work,
# starts a throw-away PostgreSQL unless LINKGATE_DATABASE is set, and stops
# whatever it started on exit. Every process it starts is recorded in pids
# and ended by its own ID.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/linkgate-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ -n "${pgdata:-}" ]; then as_postgres "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
# A script stopped by a signal cleans up too.
trap 'exit 130' INT TERM

as_postgres() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# free_port prints a port no listener holds, below the ephemeral range
# (32768 and up on Linux): a port the kernel hands out for binding would
# also be handed to outgoing connections, and a load test makes thousands,
# so the site could find its port taken by the time Caddy binds it. Ports
# given out before are not given again.
free_port() {
	python3 - "$work/ports" <<'PY'
import random, socket, sys
taken = set(open(sys.argv[1]).read().split()) if __import__("os").path.exists(sys.argv[1]) else set()
while True:
    port = random.randrange(20000, 32000)
    if str(port) in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", port))
    except OSError:
        continue
    finally:
        s.close()
    open(sys.argv[1], "a").write(f"{port}\n")
    print(port)
    break
PY
}

need() {
	for c in "$@"; do
		command -v "$c" >/dev/null || { echo "$c is missing (Debian: apt-get install ${pkg[$c]:-$c})" >&2; exit 1; }
	done
}
declare -A pkg=([taskset]=util-linux [psql]=postgresql-client [pgbench]=postgresql-contrib [wrk]=wrk [curl]=curl [python3]=python3)

build() {
	echo "building caddy and lgbench" >&2
	(cd "$root" && go build -o "$work/caddy" ./cmd/caddy && go build -o "$work/lgbench" ./bench/cmd/lgbench)
}

# start_postgres [extra postgres -c settings...] starts a throw-away
# cluster (as the postgres user when root) unless LINKGATE_DATABASE is set,
# and exports LINKGATE_DATABASE, PGHOST and PGPORT for it.
start_postgres() {
	if [ -n "${LINKGATE_DATABASE:-}" ]; then return; fi
	local initdb
	initdb=$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")
	pgbin=$(dirname "$initdb")
	pgdata=$work/pg
	mkdir -p "$pgdata"
	[ "$(id -u)" = 0 ] && chown postgres "$pgdata"
	pgport=$(free_port)
	local opts="-p $pgport -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
	for o in "$@"; do opts="$opts -c $o"; done
	as_postgres "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust --no-sync >/dev/null
	as_postgres "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w -o "$opts" start >/dev/null
	export LINKGATE_DATABASE="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"
	export PGHOST=127.0.0.1 PGPORT=$pgport PGUSER=postgres PGDATABASE=postgres
}

# start_upstream PORT runs lgbench's upstream on CPU 1, beside the load
# generators, so that it takes no CPU from the gateway on CPU 0.
start_upstream() {
	# Not through on(): a function run in the background is a subshell,
	# and its ID would not be the upstream's, which cleanup must end.
	taskset -c 1 nice -n "${NICE:-0}" "$work/lgbench" upstream -addr "127.0.0.1:$1" &
	pids+=($!)
	wait_http "http://127.0.0.1:$1/"
}

# start_caddy CADDYFILE runs Caddy with that config, pinned to CPU 0, and
# sets caddy_pid. wait_http on one of its sites tells when it is up.
start_caddy() {
	(cd "$work" && exec taskset -c 0 nice -n "${NICE:-0}" ./caddy run --config "$1" >>"$work/caddy.log" 2>&1) &
	caddy_pid=$!
	pids+=("$caddy_pid")
}

stop_caddy() {
	kill "$caddy_pid" 2>/dev/null || true
	wait "$caddy_pid" 2>/dev/null || true
}

wait_http() {
	for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
	echo "$1 does not answer" >&2
	tail -n 20 "$work/caddy.log" >&2 2>/dev/null || true
	exit 1
}

org_token() {
	"$work/caddy" linkgate org create "$1" --json --database "$LINKGATE_DATABASE" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# create_alias API TOKEN [extra JSON fields] prints the new alias's ID.
create_alias() {
	curl -sf -X POST "$1/organization/api/v1/alias/create" -H "Authorization: $2" \
		-d "{\"type\":\"${3:-live}\",\"passcode\":\"bench-pass\",\"jwt_secret\":\"0123456789abcdef0123456789abcdef\",\"expired_at\":$(($(date +%s) + 86400))}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])'
}

# jwt_for ALIAS prints a viewer JWT for the alias, valid for an hour.
jwt_for() {
	python3 - "$1" <<'PY'
import base64, hashlib, hmac, json, sys, time
enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = enc(json.dumps({"alias": sys.argv[1], "user_id": "bench", "exp": int(time.time()) + 3600}).encode())
sig = enc(hmac.new(b"0123456789abcdef0123456789abcdef", f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}

# session_cookie URL prints the Cookie header value the gateway sets for a
# request to URL (which carries a credential).
session_cookie() {
	curl -s -o /dev/null -D - "$1" | awk -F'[ ;]' 'tolower($1) == "set-cookie:" {print $2; exit}'
}

# on CPU COMMAND... runs a command pinned to one CPU, at the niceness
# NICE (default 0). On a machine shared with other work, NICE=-10 gives
# the measured processes precedence, so that what is measured is the
# gateway rather than whoever else had CPU 0 at the time.
on() {
	local cpu=$1
	shift
	taskset -c "$cpu" nice -n "${NICE:-0}" "$@"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

machine() {
	echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(go version | cut -d' ' -f3); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
}

# gateway writes and starts the side-by-side gateway: one Caddy (CPU 0)
# with a site per variant, each routing /live/* to one lgbench upstream
# (CPU 1): reverse_proxy; header_up (reverse_proxy adding the four
# identity headers alias_auth sets); header_up_strip (the same, also
# dropping a passcode query parameter, an Authorization header and
# cookies before proxying, as alias_auth strips credentials: sent the
# requests alias_auth gets, it is what those bytes cost Caddy without any
# check); forward_auth (to the upstream);
# passcode and jwt (alias_auth without session cookies, so each request
# carries and checks its credential); cookie (alias_auth as configured by
# default, reached with the session cookie); passcode_none and cookie_none
# (the same with identity_headers none); and alias_api on a site of its
# own, so that no variant's route pays for it. Sets port[], admin, api,
# token, alias, jwt and caddy_pid.
declare -A port
gateway() {
	upstream=$(free_port)
	admin=$(free_port)
	sites=(reverse_proxy header_up header_up_strip forward_auth passcode jwt cookie passcode_none cookie_none)
	for s in "${sites[@]}" api; do port[$s]=$(free_port); done
	aliasauth() { # session_lifetime, identity_headers
		printf '\thandle /live/* {\n\t\talias_auth live {\n\t\t\tsession_lifetime %s\n' "$1"
		[ -n "${2:-}" ] && printf '\t\t\tidentity_headers %s\n' "$2"
		printf '\t\t}\n\t\treverse_proxy 127.0.0.1:%s\n\t}\n' "$upstream"
	}
	cat >"$work/Caddyfile" <<-CADDY
	{
		admin 127.0.0.1:$admin
		log {
			level ERROR
		}
		linkgate {
			database {env.LINKGATE_DATABASE}
		}
	}
	http://127.0.0.1:${port[reverse_proxy]} {
		handle /live/* {
			reverse_proxy 127.0.0.1:$upstream
		}
	}
	http://127.0.0.1:${port[header_up]} {
		handle /live/* {
			reverse_proxy 127.0.0.1:$upstream {
				header_up X-Linkgate-Alias abcdefghijkl
				header_up X-Linkgate-Type live
				header_up X-Linkgate-Role viewer
				header_up X-Linkgate-User bench
			}
		}
	}
	http://127.0.0.1:${port[header_up_strip]} {
		handle /live/* {
			uri query -passcode
			reverse_proxy 127.0.0.1:$upstream {
				header_up X-Linkgate-Alias abcdefghijkl
				header_up X-Linkgate-Type live
				header_up X-Linkgate-Role viewer
				header_up X-Linkgate-User bench
				header_up -Authorization
				header_up -Cookie
			}
		}
	}
	http://127.0.0.1:${port[forward_auth]} {
		handle /live/* {
			forward_auth 127.0.0.1:$upstream {
				uri /check
			}
			reverse_proxy 127.0.0.1:$upstream
		}
	}
	http://127.0.0.1:${port[api]} {
		alias_api
	}
	http://127.0.0.1:${port[passcode]} {
	$(aliasauth off)
	}
	http://127.0.0.1:${port[jwt]} {
	$(aliasauth off)
	}
	http://127.0.0.1:${port[cookie]} {
	$(aliasauth 12h)
	}
	http://127.0.0.1:${port[passcode_none]} {
	$(aliasauth off none)
	}
	http://127.0.0.1:${port[cookie_none]} {
	$(aliasauth 12h none)
	}
	CADDY

	token=$(org_token bench)
	start_upstream "$upstream"
	start_caddy Caddyfile
	wait_http "http://127.0.0.1:${port[reverse_proxy]}/"
	api=http://127.0.0.1:${port[api]}
	alias=$(create_alias "$api" "$token")
	jwt=$(jwt_for "$alias")
}

# seg VARIANT NAME is the URL of segment NAME of the alias at a variant.
seg() { echo "http://127.0.0.1:${port[$1]}/live/$alias/$2"; }

# cookie_of VARIANT is the session cookie alias_auth of that variant issues.
cookie_of() { session_cookie "$(seg "$1" x)?passcode=bench-pass"; }
