#!/usr/bin/env bash
# Load test on loopback: the same request load, on the same machine and the same
# simulated Twilio (2 ms latency), against
#   (a) the simulator directly,
#   (b) Caddy's plain reverse_proxy in front of it,
#   (c) the twilio_sms adapter in front of it (generic mapping),
#   (d) the same adapter with Caddy's default log at WARN, i.e. without the
#       adapter's one INFO line per request (failures are still logged),
# then a memory-flatness run of the adapter (RSS and Go heap after 1,000 and
# after 100,000 requests).
#
#   scripts/load.sh                 # 10 s per target, 50 connections, hey
#   DURATION=20s CONNS=100 scripts/load.sh
#   TOOL=wrk scripts/load.sh        # wrk instead of hey
#
# Settings (environment):
#   DURATION   per-target run time (default 10s, at most 120s)
#   CONNS      concurrent connections (default 50, at most 1000)
#   MEM_N      requests of the memory run (default 100000, at most 1000000; 0 skips it)
#   LATENCY    simulator latency (default 2ms)
#   ROUNDS     rounds over the four targets, medians reported (default 3, at most 10)
#   TOOL       hey or wrk (default: hey if installed, else wrk)
#   BASE_PORT  first of the loopback ports used (default 28080; uses BASE_PORT..+4, +9)
#   CADDY_BIN  Caddy binary with the adapter (default ./caddy, built with
#              ./xcaddy.sh when absent; REBUILD=1 rebuilds it)
#   KEEP=1     keep the temporary directory (configs and logs)
#
# It installs nothing; it names the Debian package to install when a tool is
# missing. Everything listens on 127.0.0.1 only, and every run is bounded in
# time and in requests.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
MEM_N=${MEM_N:-100000}
LATENCY=${LATENCY:-2ms}
BASE_PORT=${BASE_PORT:-28080}
ROUNDS=${ROUNDS:-3}
CADDY_BIN=${CADDY_BIN:-./caddy}

die() { echo "load.sh: $*" >&2; exit 1; }

# --- bounds ---
secs=${DURATION%s}
[[ "$DURATION" =~ ^[0-9]+s$ ]] && (( secs >= 1 && secs <= 120 )) || die "DURATION must be 1s..120s, not $DURATION"
[[ "$CONNS" =~ ^[0-9]+$ ]] && (( CONNS >= 1 && CONNS <= 1000 )) || die "CONNS must be 1..1000"
[[ "$MEM_N" =~ ^[0-9]+$ ]] && (( MEM_N == 0 || (MEM_N >= 2000 && MEM_N <= 1000000) )) || die "MEM_N must be 0 or 2000..1000000"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && (( ROUNDS >= 1 && ROUNDS <= 10 )) || die "ROUNDS must be 1..10"
[[ "$BASE_PORT" =~ ^[0-9]+$ ]] && (( BASE_PORT >= 1024 && BASE_PORT <= 65000 )) || die "BASE_PORT must be 1024..65000"

# --- tools ---
if [[ -z "${TOOL:-}" ]]; then
  if command -v hey >/dev/null; then TOOL=hey
  elif command -v wrk >/dev/null; then TOOL=wrk
  else die "neither hey nor wrk is installed: apt-get install -y hey (or wrk)"; fi
fi
case "$TOOL" in
  hey) command -v hey >/dev/null || die "hey is not installed: apt-get install -y hey" ;;
  wrk) command -v wrk >/dev/null || die "wrk is not installed: apt-get install -y wrk" ;;
  *) die "TOOL must be hey or wrk" ;;
esac
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

SIM=$((BASE_PORT + 1)) PROXY=$((BASE_PORT + 2)) ADAPTER=$((BASE_PORT + 3)) QUIET=$((BASE_PORT + 4))
ADMIN=$((BASE_PORT + 9))
ACCOUNT=AC00000000000000000000000000000001
TOKEN=load-token
NUMBER=+15005550006
TWILIO_PATH=/2010-04-01/Accounts/$ACCOUNT/Messages.json
TWILIO_BODY="To=%2B15005550006&From=%2B15005550006&Body=Your+code+is+123456"
ADAPTER_BODY="to=%2B15005550006&message=Your+code+is+123456"
FORM=application/x-www-form-urlencoded

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- configs: one process each, same global options ---
global="{
	admin off
	auto_https off
	persist_config off
	servers {
		protocols h1
	}
}"
cat >"$tmp/simulator.Caddyfile" <<EOF
$global
http://127.0.0.1:$SIM {
	bind 127.0.0.1
	twilio_simulator {
		account $ACCOUNT $TOKEN
		latency $LATENCY
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
# The adapter: dedup off so that every request really goes upstream (identical
# requests would otherwise be answered from the duplicate cache), and
# max_concurrent above CONNS so that the adapter's own queue (default 32 per
# account, a guard for Twilio's concurrency limit) does not cap the test.
adapter_global="{
	admin 127.0.0.1:$ADMIN
	auto_https off
	persist_config off
	servers {
		protocols h1
	}
}"
cat >"$tmp/adapter.Caddyfile" <<EOF
$adapter_global
http://127.0.0.1:$ADAPTER {
	bind 127.0.0.1
	route /sms {
		twilio_sms generic {
			account_sid    $ACCOUNT
			auth_token     $TOKEN
			from           $NUMBER
			api_url        http://127.0.0.1:$SIM
			max_concurrent $((CONNS * 2))
			max_queue      $((CONNS * 4))
			dedup off
		}
	}
}
EOF

quiet_global="{
	admin off
	auto_https off
	persist_config off
	servers {
		protocols h1
	}
	log {
		level WARN
	}
}"
sed -e "1,/^}$/d" "$tmp/adapter.Caddyfile" | sed -e "s/127.0.0.1:$ADAPTER/127.0.0.1:$QUIET/" >"$tmp/quiet.body"
{ echo "$quiet_global"; cat "$tmp/quiet.body"; } >"$tmp/adapter_quiet.Caddyfile"

start() { # name
  "$CADDY_BIN" run --config "$tmp/$1.Caddyfile" --adapter caddyfile >"$tmp/$1.log" 2>&1 &
  pids+=("$!")
  eval "${1}_pid=$!"
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
start simulator
start proxy
start adapter
start adapter_quiet
wait_up simulator "http://127.0.0.1:$SIM/_simulator/stats"
wait_up proxy "http://127.0.0.1:$PROXY/_simulator/stats"
wait_up adapter "http://127.0.0.1:$ADMIN/config/"
wait_up adapter_quiet "http://127.0.0.1:$QUIET/"

# Each target must answer the request correctly before it is measured.
check() { # name url body basic expect
  local code
  code=$(curl -s -o "$tmp/check.out" -w '%{http_code}' -X POST -H "Content-Type: $FORM" ${4:+-u "$4"} --data "$3" "$2")
  [[ "$code" == "$5" ]] || { cat "$tmp/check.out" >&2; die "$1 answered $code, want $5"; }
}
check direct "http://127.0.0.1:$SIM$TWILIO_PATH" "$TWILIO_BODY" "$ACCOUNT:$TOKEN" 201
check reverse_proxy "http://127.0.0.1:$PROXY$TWILIO_PATH" "$TWILIO_BODY" "$ACCOUNT:$TOKEN" 201
check adapter "http://127.0.0.1:$ADAPTER/sms" "$ADAPTER_BODY" "" 200
check adapter_quiet "http://127.0.0.1:$QUIET/sms" "$ADAPTER_BODY" "" 200

# run_load name url body basic -> prints "rps p50_ms p99_ms non2xx"
run_load() {
  local name=$1 url=$2 body=$3 basic=$4 out="$tmp/$1.$TOOL.txt"
  case "$TOOL" in
    hey)
      local auth=()
      [[ -n "$basic" ]] && auth=(-H "Authorization: Basic $(printf %s "$basic" | base64 -w0)")
      timeout $((secs + 60)) hey -z "$DURATION" -c "$CONNS" -m POST -T "$FORM" -d "$body" "${auth[@]}" "$url" >"$out"
      awk '
        /Requests\/sec:/ {rps=$2}
        /^  50% in/ {p50=$3*1000}
        /^  99% in/ {p99=$3*1000}
        /^  \[[0-9]+\]/ {code=substr($1,2,3); if (code !~ /^2/) bad+=$2}
        END {printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad+0}' "$out"
      ;;
    wrk)
      local auth=""
      [[ -n "$basic" ]] && auth="Basic $(printf %s "$basic" | base64 -w0)"
      {
        echo "wrk.method = \"POST\""
        echo "wrk.body = \"$body\""
        echo "wrk.headers[\"Content-Type\"] = \"$FORM\""
        if [[ -n "$auth" ]]; then echo "wrk.headers[\"Authorization\"] = \"$auth\""; fi
      } >"$tmp/$name.lua"
      timeout $((secs + 60)) wrk -t 2 -c "$CONNS" -d "$DURATION" --latency -s "$tmp/$name.lua" "$url" >"$out"
      awk '
        function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
        /Requests\/sec:/ {rps=$2}
        /^ +50%/ {p50=ms($2)}
        /^ +99%/ {p99=ms($2)}
        /Non-2xx or 3xx responses:/ {bad=$NF}
        END {printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad+0}' "$out"
      ;;
  esac
}

echo "load: $TOOL, $DURATION per target, $CONNS connections, simulator latency $LATENCY, $ROUNDS rounds, $(nproc) CPUs"
# Rounds interleave the targets, so that a slow spell on a shared machine hits
# all of them; each figure below is the median over the rounds.
: >"$tmp/rounds.txt"
for round in $(seq "$ROUNDS"); do
  echo "a $(run_load direct "http://127.0.0.1:$SIM$TWILIO_PATH" "$TWILIO_BODY" "$ACCOUNT:$TOKEN")" >>"$tmp/rounds.txt"
  echo "b $(run_load reverse_proxy "http://127.0.0.1:$PROXY$TWILIO_PATH" "$TWILIO_BODY" "$ACCOUNT:$TOKEN")" >>"$tmp/rounds.txt"
  echo "c $(run_load adapter "http://127.0.0.1:$ADAPTER/sms" "$ADAPTER_BODY" "")" >>"$tmp/rounds.txt"
  echo "d $(run_load adapter_quiet "http://127.0.0.1:$QUIET/sms" "$ADAPTER_BODY" "")" >>"$tmp/rounds.txt"
  awk -v r="$round" 'BEGIN { printf "round %s:", r } { line[NR] = $0 } END { for (i = NR - 3; i <= NR; i++) { split(line[i], f, " "); printf "  %s %s req/s", f[1], f[2] } print "" }' "$tmp/rounds.txt"
done
median() { # target column -> median of that column over the rounds
  awk -v t="$1" -v c="$2" '$1 == t { print $c }' "$tmp/rounds.txt" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
total() { awk -v t="$1" '$1 == t { s += $5 } END { print s + 0 }' "$tmp/rounds.txt"; }
for t in a b c d; do
  read -r "${t}_rps" "${t}_p50" "${t}_p99" "${t}_bad" <<<"$(median "$t" 2) $(median "$t" 3) $(median "$t" 4) $(total "$t")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
printf '| target (median of %s rounds) | req/s | p50 ms | p99 ms | non-2xx (all rounds) |\n|---|---:|---:|---:|---:|\n' "$ROUNDS"
printf '| (a) simulator direct | %s | %s | %s | %s |\n' "$a_rps" "$a_p50" "$a_p99" "$a_bad"
printf '| (b) reverse_proxy → simulator | %s | %s | %s | %s |\n' "$b_rps" "$b_p50" "$b_p99" "$b_bad"
printf '| (c) twilio_sms → simulator | %s | %s | %s | %s |\n' "$c_rps" "$c_p50" "$c_p99" "$c_bad"
printf '| (d) twilio_sms, log level WARN → simulator | %s | %s | %s | %s |\n' "$d_rps" "$d_p50" "$d_p99" "$d_bad"
echo
echo "adapter / reverse_proxy: throughput $(ratio "$c_rps" "$b_rps")×, p50 $(ratio "$c_p50" "$b_p50")×, p99 $(ratio "$c_p99" "$b_p99")×"
echo "adapter (log WARN) / reverse_proxy: throughput $(ratio "$d_rps" "$b_rps")×, p50 $(ratio "$d_p50" "$b_p50")×, p99 $(ratio "$d_p99" "$b_p99")×"
echo "reverse_proxy / direct:  throughput $(ratio "$b_rps" "$a_rps")×"

# --- memory flatness of the adapter ---
if (( MEM_N > 0 )); then
  rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$adapter_pid/status"; }
  heap_kib() { curl -s "http://127.0.0.1:$ADMIN/debug/vars" | tr ',' '\n' | awk -F: '/"HeapInuse"/ && !done {printf "%d", $2/1024; done=1}'; }
  count() { # n: send about n adapter requests; prints how many were answered
    local n=$1 out="$tmp/mem.$1.txt"
    case "$TOOL" in
      hey)
        timeout 300 hey -n "$n" -c "$CONNS" -m POST -T "$FORM" -d "$ADAPTER_BODY" "http://127.0.0.1:$ADAPTER/sms" >"$out"
        awk '/^  \[[0-9]+\]/ {sum += $2} END {print sum + 0}' "$out"
        ;;
      wrk)
        # wrk runs for a duration: long enough for n at the rate measured in (c).
        local d
        d=$(awk -v n="$n" -v r="$c_rps" 'BEGIN { d = (r > 0) ? int(n / r * 1.05) + 1 : 10; if (d > 240) d = 240; print d }')
        timeout $((d + 60)) wrk -t 2 -c "$CONNS" -d "${d}s" -s "$tmp/adapter.lua" "http://127.0.0.1:$ADAPTER/sms" >"$out"
        awk '/requests in/ {print $1}' "$out"
        ;;
    esac
  }
  # A fresh adapter process, so that the throughput run above does not count.
  kill "$adapter_pid"; wait "$adapter_pid" 2>/dev/null || true
  mv "$tmp/adapter.log" "$tmp/adapter.throughput.log"
  start adapter
  wait_up adapter "http://127.0.0.1:$ADMIN/config/"
  rss0=$(rss_kib); heap0=$(heap_kib)
  n1=$(count 1000)
  rss1=$(rss_kib); heap1=$(heap_kib)
  n2=$((n1 + $(count $((MEM_N - 1000)))))
  rss2=$(rss_kib); heap2=$(heap_kib)
  echo
  echo "adapter memory (fresh process, $CONNS connections):"
  printf '| after | VmRSS KiB | HeapInuse KiB |\n|---|---:|---:|\n'
  printf '| start | %s | %s |\n| %s requests | %s | %s |\n| %s requests | %s | %s |\n' \
    "$rss0" "$heap0" "$n1" "$rss1" "$heap1" "$n2" "$rss2" "$heap2"
  echo "RSS growth from $n1 to $n2 requests: $(awk -v a="$rss1" -v b="$rss2" 'BEGIN { printf "%+.1f%% (%+d KiB)", (b - a) * 100 / a, b - a }')"
  echo "HeapInuse growth from $n1 to $n2 requests: $(awk -v a="$heap1" -v b="$heap2" 'BEGIN { printf "%+.1f%% (%+d KiB)", (b - a) * 100 / a, b - a }')"
fi
