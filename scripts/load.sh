#!/usr/bin/env bash
# Load test on loopback: the same request load, on the same machine, against a
# simulated Twilio (twilio_simulator) answering after LATENCY, for each latency
# in LATENCIES (default 2 ms, then 0: a fast upstream, where the front end's own
# cost shows most):
#   (a) the simulator directly,
#   (b) Caddy's plain reverse_proxy in front of it (its defaults: at most 32
#       idle upstream connections, so with more connections than that some
#       are closed and reopened),
#   (b') the same with keepalive_idle_conns_per_host 64, the adapter's own
#       idle pool (PROXY64_ROW=0 leaves it out),
#   (c) the twilio_sms adapter in front of it (generic mapping, duplicate
#       suppression and the destination limit on, Caddy's log at its default
#       level, so one INFO line per request),
#   (d) the same adapter with `dedup off` (DEDUP_OFF_ROW=0 leaves it out),
# then a memory-flatness run of the adapter (RSS and Go heap after 1,000 and
# after MEM_N requests).
#
# Every request carries a new code: the message text ("Your code is <n>") is
# unique per request across threads, targets, rounds and latencies, so the
# adapter's duplicate suppression never answers from its cache and every
# request of (c) really goes to the simulator. The script checks it: the
# simulator's count of accepted messages must grow by at least the number of
# 2xx answers of each run, and the adapter's duplicates_suppressed_total must
# stay 0.
#
#   scripts/load.sh                     # 10 s per target, 50 connections, 3 rounds
#   DURATION=20s CONNS=100 scripts/load.sh
#   LATENCIES=0s scripts/load.sh        # the fast upstream only
#
# Settings (environment):
#   DURATION   per-target run time (default 10s, at most 120s)
#   CONNS      concurrent connections (default 50, at most 1000)
#   THREADS    wrk threads (default 2, at most CONNS)
#   LATENCIES  simulator latencies, one phase each (default "2ms 0s")
#   ROUNDS     rounds over the targets per phase, medians reported (default 3, at most 10)
#   DEDUP_OFF_ROW  1 (default) adds row (d), 0 leaves it out
#   PROXY64_ROW    1 (default) adds row (b'), 0 leaves it out
#   MEM_N      requests of each part of the memory run (default 100000, at most
#              1000000; 0 skips it): RSS and heap after 1,000, MEM_N and 2×MEM_N
#   BASE_PORT  first of the loopback ports used (default 28080; uses BASE_PORT..+4, +9)
#   CADDY_BIN  Caddy binary with the adapter (default ./caddy, built with
#              ./xcaddy.sh when absent; REBUILD=1 rebuilds it)
#   KEEP=1     keep the temporary directory (configs, logs, raw wrk output)
#
# The load tool is wrk (Debian: apt-get install -y wrk): its Lua script makes
# each request's body, which hey cannot (hey sends one body for all). It
# installs nothing. Everything listens on 127.0.0.1 only, and every run is
# bounded in time and in requests.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
MEM_N=${MEM_N:-100000}
LATENCIES=${LATENCIES:-2ms 0s}
BASE_PORT=${BASE_PORT:-28080}
ROUNDS=${ROUNDS:-3}
DEDUP_OFF_ROW=${DEDUP_OFF_ROW:-1}
PROXY64_ROW=${PROXY64_ROW:-1}
CADDY_BIN=${CADDY_BIN:-./caddy}

die() { echo "load.sh: $*" >&2; exit 1; }

# --- bounds ---
secs=${DURATION%s}
[[ "$DURATION" =~ ^[0-9]+s$ ]] && (( secs >= 1 && secs <= 120 )) || die "DURATION must be 1s..120s, not $DURATION"
[[ "$CONNS" =~ ^[0-9]+$ ]] && (( CONNS >= 1 && CONNS <= 1000 )) || die "CONNS must be 1..1000"
[[ "$THREADS" =~ ^[0-9]+$ ]] && (( THREADS >= 1 && THREADS <= CONNS && THREADS <= 64 )) || die "THREADS must be 1..min(CONNS, 64)"
[[ "$MEM_N" =~ ^[0-9]+$ ]] && (( MEM_N == 0 || (MEM_N >= 2000 && MEM_N <= 1000000) )) || die "MEM_N must be 0 or 2000..1000000"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && (( ROUNDS >= 1 && ROUNDS <= 10 )) || die "ROUNDS must be 1..10"
[[ "$BASE_PORT" =~ ^[0-9]+$ ]] && (( BASE_PORT >= 1024 && BASE_PORT <= 65000 )) || die "BASE_PORT must be 1024..65000"
[[ "$DEDUP_OFF_ROW" == 0 || "$DEDUP_OFF_ROW" == 1 ]] || die "DEDUP_OFF_ROW must be 0 or 1"
[[ "$PROXY64_ROW" == 0 || "$PROXY64_ROW" == 1 ]] || die "PROXY64_ROW must be 0 or 1"
nlat=0
for lat in $LATENCIES; do
  [[ "$lat" =~ ^[0-9]+(ms|s)$ ]] || die "each of LATENCIES must be like 2ms or 0s, not $lat"
  nlat=$((nlat + 1))
done
(( nlat >= 1 && nlat <= 4 )) || die "LATENCIES must name 1 to 4 latencies"

# --- tools ---
command -v wrk >/dev/null || die "wrk is not installed: apt-get install -y wrk (hey cannot send a new code per request)"
command -v curl >/dev/null || die "curl is not installed: apt-get install -y curl"
command -v timeout >/dev/null || die "timeout is not installed: apt-get install -y coreutils"

if [[ "${REBUILD:-0}" == 1 || ! -x "$CADDY_BIN" ]]; then
  echo "building $CADDY_BIN with ./xcaddy.sh ..." >&2
  CADDY_BIN="$CADDY_BIN" ./xcaddy.sh
elif [[ -n "$(find caddymodule internal mappings cmd -name '*.go' -newer "$CADDY_BIN" -print -quit 2>/dev/null)" ]]; then
  echo "warning: sources are newer than $CADDY_BIN; REBUILD=1 rebuilds it" >&2
fi

for p in 0 1 2 3 4 9; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$((BASE_PORT + p))") 2>/dev/null; then
    die "port $((BASE_PORT + p)) is in use; choose another BASE_PORT"
  fi
done

SIM=$((BASE_PORT + 1)) PROXY=$((BASE_PORT + 2)) ADAPTER=$((BASE_PORT + 3)) NODEDUP=$BASE_PORT PROXY64=$((BASE_PORT + 4))
ADMIN=$((BASE_PORT + 9))
ACCOUNT=AC00000000000000000000000000000001
TOKEN=load-token
NUMBER=+15005550006
TWILIO_PATH=/2010-04-01/Accounts/$ACCOUNT/Messages.json
# Request bodies: the code is appended per request by the Lua script.
TWILIO_PREFIX="To=%2B15005550006&From=%2B15005550006&Body=Your+code+is+"
ADAPTER_PREFIX="to=%2B15005550006&message=Your+code+is+"
FORM=application/x-www-form-urlencoded
BASIC="Basic $(printf %s "$ACCOUNT:$TOKEN" | base64 -w0)"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# The wrk script: a new code in every request. wrk runs one Lua state per
# thread; setup() numbers the threads, and the run number (an argument)
# separates runs, so that no two requests of the whole script carry the
# same text.
cat >"$tmp/unique.lua" <<'EOF'
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local counter, run, prefix = 0, 0, ""
function init(args)
  run = tonumber(args[1])
  prefix = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  if args[3] ~= nil and args[3] ~= "" then wrk.headers["Authorization"] = args[3] end
end
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. string.format("%04d%02d%08d", run, tid, counter))
end
EOF

global="{
	admin off
	auto_https off
	persist_config off
	servers {
		protocols h1
	}
}"
# An adapter: route /sms with the generic mapping. Duplicate suppression is on
# (the default) with a 5 s window instead of the default 2 minutes: the cache
# holds at most 100,000 entries, which 2 minutes of distinct messages at
# several thousand per second would fill, and a full cache refuses (503)
# instead of sending; the window's length does not change the work per
# request (one lookup and one insert). The
# destination limit is on but never binding (every request goes to the same
# number). max_concurrent above CONNS, so that the adapter's own queue (32 per
# account by default, a guard for Twilio's concurrency limit) does not cap the
# test.
adapter_site() { # port dedup
  cat <<EOF
http://127.0.0.1:$1 {
	bind 127.0.0.1
	route /sms {
		twilio_sms generic {
			account_sid    $ACCOUNT
			auth_token     $TOKEN
			from           $NUMBER
			api_url        http://127.0.0.1:$SIM
			max_concurrent $((CONNS * 2))
			max_queue      $((CONNS * 4))
			dedup          $2
			rate_limit     destination 100000000 1s
		}
	}
}
EOF
}
write_configs() { # latency
  cat >"$tmp/simulator.Caddyfile" <<EOF
$global
http://127.0.0.1:$SIM {
	bind 127.0.0.1
	twilio_simulator {
		account $ACCOUNT $TOKEN
		latency $1
		max_records 1000
	}
}
EOF
  cat >"$tmp/proxy.Caddyfile" <<EOF
$global
http://127.0.0.1:$PROXY {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$SIM
}
EOF
  cat >"$tmp/proxy64.Caddyfile" <<EOF
$global
http://127.0.0.1:$PROXY64 {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$SIM {
		transport http {
			keepalive_idle_conns_per_host 64
		}
	}
}
EOF
  { echo "{
	admin 127.0.0.1:$ADMIN
	auto_https off
	persist_config off
	servers {
		protocols h1
	}
}"; adapter_site "$ADAPTER" 5s; } >"$tmp/adapter.Caddyfile"
  { echo "$global"; adapter_site "$NODEDUP" off; } >"$tmp/nodedup.Caddyfile"
}

start() { # name
  "$CADDY_BIN" run --config "$tmp/$1.Caddyfile" --adapter caddyfile >>"$tmp/$1.log" 2>&1 &
  pids+=("$!")
  eval "${1}_pid=$!"
}
stop() { # name
  local pid_var="${1}_pid"
  kill "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
}
wait_up() { # name url
  local pid_var="${1}_pid"
  for _ in $(seq 100); do
    curl -s -o /dev/null "$2" && return 0
    kill -0 "${!pid_var}" 2>/dev/null || { tail -3 "$tmp/$1.log" >&2; die "$1 exited"; }
    sleep 0.1
  done
  die "$2 did not come up"
}

# Each target must answer a request correctly before it is measured.
check() { # name url body basic expect
  local code
  code=$(curl -s -o "$tmp/check.out" -w '%{http_code}' -X POST -H "Content-Type: $FORM" ${4:+-H "Authorization: $4"} --data "$3" "$2")
  [[ "$code" == "$5" ]] || { cat "$tmp/check.out" >&2; die "$1 answered $code, want $5"; }
}

accepted() { curl -s "http://127.0.0.1:$SIM/_simulator/stats" | tr ',{' '\n\n' | awk -F: '/"accepted"/ {print $2; exit}'; }
duplicates() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk '/^caddy_twilio_sms_duplicates_suppressed_total/ {s += $2} END {print s + 0}'; }

# run numbers every wrk run, for the codes; it is counted up outside the
# $(...) subshells that call run_load and count.
run=0
# CPU time (user + system, in clock ticks) a process has used so far.
CLK_TCK=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run_load name url prefix basic front_pid -> prints "rps p50_ms p99_ms non2xx
# requests reached front_cpu_us sim_cpu_us": the last two are the CPU time
# the front process (the simulator itself for (a)) and the simulator spent per
# request, a figure the machine's other load disturbs far less than req/s.
run_load() {
  local name=$1 url=$2 prefix=$3 basic=$4 front=$5 out="$tmp/$1.$run.txt" before after f0 f1 s0 s1
  before=$(accepted); f0=$(ticks "$front"); s0=$(ticks "$simulator_pid")
  timeout $((secs + 60)) wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" --latency -s "$tmp/unique.lua" "$url" -- "$run" "$prefix" "$basic" >"$out"
  after=$(accepted); f1=$(ticks "$front"); s1=$(ticks "$simulator_pid")
  awk -v reached=$((after - before)) -v front=$((f1 - f0)) -v sim=$((s1 - s0)) -v hz="$CLK_TCK" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec:/ {rps=$2}
    /^ +50%/ {p50=ms($2)}
    /^ +99%/ {p99=ms($2)}
    / requests in / {n=$1}
    /Non-2xx or 3xx responses:/ {bad=$NF}
    END {
      us = (n > 0) ? 1e6 / hz / n : 0
      printf "%.0f %.2f %.2f %d %d %d %.1f %.1f\n", rps, p50, p99, bad+0, n, reached, front * us, sim * us
    }' "$out"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

targets="a b"
[[ "$PROXY64_ROW" == 1 ]] && targets+=" p"
targets+=" c"
[[ "$DEDUP_OFF_ROW" == 1 ]] && targets+=" d"
echo "load: wrk -t $THREADS -c $CONNS -d $DURATION, unique code per request, $ROUNDS rounds per latency ($LATENCIES), $(nproc) CPUs, load average $(loadavg)"
summary=""
for lat in $LATENCIES; do
  write_configs "$lat"
  start simulator
  start proxy
  [[ "$PROXY64_ROW" == 1 ]] && start proxy64
  start adapter
  [[ "$DEDUP_OFF_ROW" == 1 ]] && start nodedup
  wait_up simulator "http://127.0.0.1:$SIM/_simulator/stats"
  wait_up proxy "http://127.0.0.1:$PROXY/_simulator/stats"
  [[ "$PROXY64_ROW" == 1 ]] && wait_up proxy64 "http://127.0.0.1:$PROXY64/_simulator/stats"
  wait_up adapter "http://127.0.0.1:$ADMIN/config/"
  [[ "$DEDUP_OFF_ROW" == 1 ]] && wait_up nodedup "http://127.0.0.1:$NODEDUP/"
  check direct "http://127.0.0.1:$SIM$TWILIO_PATH" "${TWILIO_PREFIX}check$lat" "$BASIC" 201
  check reverse_proxy "http://127.0.0.1:$PROXY$TWILIO_PATH" "${TWILIO_PREFIX}check$lat" "$BASIC" 201
  [[ "$PROXY64_ROW" == 1 ]] && check reverse_proxy_64 "http://127.0.0.1:$PROXY64$TWILIO_PATH" "${TWILIO_PREFIX}check$lat" "$BASIC" 201
  check adapter "http://127.0.0.1:$ADAPTER/sms" "${ADAPTER_PREFIX}check$lat" "" 200
  [[ "$DEDUP_OFF_ROW" == 1 ]] && check adapter_nodedup "http://127.0.0.1:$NODEDUP/sms" "${ADAPTER_PREFIX}check2$lat" "" 200

  echo
  echo "simulator latency $lat (load average $(loadavg) before)"
  # Rounds interleave the targets, so that a slow spell on a shared machine
  # hits all of them; each figure below is the median over the rounds.
  : >"$tmp/rounds.txt"
  for round in $(seq "$ROUNDS"); do
    run=$((run + 1)); echo "a $(run_load direct "http://127.0.0.1:$SIM$TWILIO_PATH" "$TWILIO_PREFIX" "$BASIC" "$simulator_pid")" >>"$tmp/rounds.txt"
    run=$((run + 1)); echo "b $(run_load reverse_proxy "http://127.0.0.1:$PROXY$TWILIO_PATH" "$TWILIO_PREFIX" "$BASIC" "$proxy_pid")" >>"$tmp/rounds.txt"
    if [[ "$PROXY64_ROW" == 1 ]]; then
      run=$((run + 1)); echo "p $(run_load reverse_proxy_64 "http://127.0.0.1:$PROXY64$TWILIO_PATH" "$TWILIO_PREFIX" "$BASIC" "$proxy64_pid")" >>"$tmp/rounds.txt"
    fi
    run=$((run + 1)); echo "c $(run_load adapter "http://127.0.0.1:$ADAPTER/sms" "$ADAPTER_PREFIX" "" "$adapter_pid")" >>"$tmp/rounds.txt"
    if [[ "$DEDUP_OFF_ROW" == 1 ]]; then
      run=$((run + 1)); echo "d $(run_load adapter_nodedup "http://127.0.0.1:$NODEDUP/sms" "$ADAPTER_PREFIX" "" "$nodedup_pid")" >>"$tmp/rounds.txt"
    fi
    awk -v r="$round" -v n="$(wc -w <<<"$targets")" 'BEGIN { printf "  round %s:", r } { line[NR] = $0 } END { for (i = NR - n + 1; i <= NR; i++) { split(line[i], f, " "); printf "  %s %s req/s", f[1], f[2] } print "" }' "$tmp/rounds.txt"
  done
  dups=$(duplicates)
  median() { # target column -> median of that column over the rounds
    awk -v t="$1" -v c="$2" '$1 == t { print $c }' "$tmp/rounds.txt" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  }
  total() { awk -v t="$1" -v c="$2" '$1 == t { s += $c } END { print s + 0 }' "$tmp/rounds.txt"; }
  for t in $targets; do
    read -r "${t}_rps" "${t}_p50" "${t}_p99" "${t}_bad" "${t}_n" "${t}_reached" "${t}_cpu" "${t}_sim" <<<"$(median "$t" 2) $(median "$t" 3) $(median "$t" 4) $(total "$t" 5) $(total "$t" 6) $(total "$t" 7) $(median "$t" 8) $(median "$t" 9)"
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
  table=$(
    printf '| simulator latency %s (median of %s rounds) | req/s | p50 ms | p99 ms | non-2xx | requests | reached the simulator | front CPU µs/req | simulator CPU µs/req |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n' "$lat" "$ROUNDS"
    row() { # label target
      local t=$2 v
      printf '| %s |' "$1"
      for v in rps p50 p99 bad n reached cpu sim; do local var="${t}_$v"; printf ' %s |' "${!var}"; done
      echo
    }
    row "(a) simulator direct" a
    row "(b) reverse_proxy → simulator" b
    if [[ "$PROXY64_ROW" == 1 ]]; then
      row "(b') reverse_proxy, 64 idle connections → simulator" p
    fi
    row "(c) twilio_sms → simulator" c
    if [[ "$DEDUP_OFF_ROW" == 1 ]]; then
      row "(d) twilio_sms, dedup off → simulator" d
    fi
    echo
    echo "adapter / reverse_proxy: throughput $(ratio "$c_rps" "$b_rps")×, p50 $(ratio "$c_p50" "$b_p50")×, p99 $(ratio "$c_p99" "$b_p99")×, front CPU per request $(ratio "$c_cpu" "$b_cpu")×"
    if [[ "$PROXY64_ROW" == 1 ]]; then
      echo "adapter / reverse_proxy with 64 idle connections: throughput $(ratio "$c_rps" "$p_rps")×, p50 $(ratio "$c_p50" "$p_p50")×, p99 $(ratio "$c_p99" "$p_p99")×, front CPU per request $(ratio "$c_cpu" "$p_cpu")×"
    fi
    if [[ "$DEDUP_OFF_ROW" == 1 ]]; then
      echo "adapter (dedup off) / reverse_proxy: throughput $(ratio "$d_rps" "$b_rps")×, p50 $(ratio "$d_p50" "$b_p50")×, p99 $(ratio "$d_p99" "$b_p99")×, front CPU per request $(ratio "$d_cpu" "$b_cpu")×"
    fi
    echo "reverse_proxy / direct: throughput $(ratio "$b_rps" "$a_rps")×"
    echo "adapter duplicates suppressed: $dups (must be 0: every code is new); load average $(loadavg) after"
  )
  echo
  echo "$table"
  summary+=$'\n'"$table"$'\n'
  # Every 2xx of the adapter must have reached the simulator: none came from the cache.
  for t in c d; do
    [[ " $targets " == *" $t "* ]] || continue
    n_var=${t}_n reached_var=${t}_reached bad_var=${t}_bad
    if (( ${!reached_var} < ${!n_var} - ${!bad_var} )); then
      echo "warning: ($t) answered $(( ${!n_var} - ${!bad_var} )) requests with 2xx but only ${!reached_var} reached the simulator" >&2
    fi
  done
  (( dups == 0 )) || echo "warning: the adapter answered $dups requests from its duplicate cache" >&2
  if [[ "$lat" != "${LATENCIES##* }" ]]; then
    stop simulator; stop proxy; stop adapter
    [[ "$PROXY64_ROW" == 1 ]] && stop proxy64
    [[ "$DEDUP_OFF_ROW" == 1 ]] && stop nodedup
  fi
done

# --- memory flatness of the adapter (against the last latency's simulator) ---
if (( MEM_N > 0 )); then
  rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$adapter_pid/status"; }
  heap_kib() { curl -s "http://127.0.0.1:$ADMIN/debug/vars" | tr ',' '\n' | awk -F: '/"HeapInuse"/ && !done {printf "%d", $2/1024; done=1}'; }
  count() { # n: send about n adapter requests (wrk runs for a duration, long
    # enough for n at the rate measured in (c)); prints how many were answered
    local n=$1 out="$tmp/mem.$1.txt" d
    d=$(awk -v n="$n" -v r="$c_rps" 'BEGIN { d = (r > 0) ? int(n / r * 1.05) + 1 : 10; if (d > 240) d = 240; print d }')
    timeout $((d + 60)) wrk -t "$THREADS" -c "$CONNS" -d "${d}s" -s "$tmp/unique.lua" "http://127.0.0.1:$ADAPTER/sms" -- "$run" "$ADAPTER_PREFIX" "" >"$out"
    awk '/ requests in / {print $1}' "$out"
  }
  # A fresh adapter process, so that the throughput runs above do not count.
  stop adapter
  start adapter
  wait_up adapter "http://127.0.0.1:$ADMIN/config/"
  rss0=$(rss_kib); heap0=$(heap_kib)
  run=$((run + 1)); n1=$(count 1000)
  rss1=$(rss_kib); heap1=$(heap_kib)
  run=$((run + 1)); n2=$((n1 + $(count $((MEM_N - 1000)))))
  rss2=$(rss_kib); heap2=$(heap_kib)
  run=$((run + 1)); n3=$((n2 + $(count "$MEM_N")))
  rss3=$(rss_kib); heap3=$(heap_kib)
  echo
  echo "adapter memory (fresh process, $CONNS connections, unique codes, dedup window 5s):"
  printf '| after | VmRSS KiB | HeapInuse KiB |\n|---|---:|---:|\n'
  printf '| start | %s | %s |\n| %s requests | %s | %s |\n| %s requests | %s | %s |\n| %s requests | %s | %s |\n' \
    "$rss0" "$heap0" "$n1" "$rss1" "$heap1" "$n2" "$rss2" "$heap2" "$n3" "$rss3" "$heap3"
  # The duplicate cache fills up to (rate × window) entries in the first
  # seconds; flat means no growth after that, from n2 to n3.
  echo "RSS growth from $n2 to $n3 requests: $(awk -v a="$rss2" -v b="$rss3" 'BEGIN { printf "%+.1f%% (%+d KiB)", (b - a) * 100 / a, b - a }')"
  echo "HeapInuse growth from $n2 to $n3 requests: $(awk -v a="$heap2" -v b="$heap3" 'BEGIN { printf "%+.1f%% (%+d KiB)", (b - a) * 100 / a, b - a }')"
fi

echo
echo "summary (load average $(loadavg) at the end):"
echo "$summary"
