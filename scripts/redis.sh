#!/usr/bin/env bash
# A private Redis for the tests: one redis-server on a free loopback port,
# persistence off, started and stopped by its own PID. It never touches
# another Redis (the system service, if any, is neither used nor stopped).
#
#   scripts/redis.sh start   # install redis-server if missing, start, print the URL
#   scripts/redis.sh url     # print redis://127.0.0.1:PORT/0 of the running instance
#   scripts/redis.sh stop    # kill it by its PID and remove the state
#   scripts/redis.sh status  # exit 0 when it is running and answers PING
#
#   export REDIS_URL=$(scripts/redis.sh start)
#   go test ./internal/redisstate/
#   scripts/redis.sh stop
#
# start and stop are idempotent: start when already running prints the URL of
# the running instance; stop when nothing runs does nothing.
#
# Settings (environment):
#   REDIS_STATE_DIR  state directory (default ${TMPDIR:-/tmp}/caddy-twilio-sms-redis):
#                    pid, port, log; one instance per directory
#   REDIS_PORT       port to use instead of a free one picked at random
#
# Installs Debian's redis-server (which also brings redis-cli) with apt-get
# when redis-server is not on PATH, running apt-get update only when the
# install fails without it.
set -euo pipefail

STATE_DIR=${REDIS_STATE_DIR:-${TMPDIR:-/tmp}/caddy-twilio-sms-redis}
PID_FILE=$STATE_DIR/pid
PORT_FILE=$STATE_DIR/port
LOG_FILE=$STATE_DIR/redis.log

die() { echo "redis.sh: $*" >&2; exit 1; }

install_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "redis-server is missing and apt-get is not available: install Redis >= 6.2"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  echo "redis.sh: installing redis-server (Debian package)" >&2
  # The package's own service is not wanted: where no policy-rc.d exists, a
  # temporary one (exit 101) keeps the install from starting it. Nothing here
  # uses or stops a system Redis.
  local policy=""
  if [ "$(id -u)" -eq 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends redis-server >&2 || rc=$?
  if [ "$rc" -ne 0 ]; then
    rc=0
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update >&2 &&
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends redis-server >&2 || rc=$?
  fi
  [ -z "$policy" ] || rm -f "$policy"
  [ "$rc" -eq 0 ] || die "apt-get install redis-server failed"
  command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after apt-get install"
}

# running prints nothing and succeeds when the recorded PID is a live
# redis-server of ours.
running() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # The PID must still be a redis-server (not a recycled PID).
  grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null || [ ! -d /proc ] || return 1
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  if [ -n "${REDIS_PORT:-}" ]; then
    port_free "$REDIS_PORT" || die "port $REDIS_PORT is in use"
    echo "$REDIS_PORT"; return
  fi
  local p i
  for i in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 30000 ))
    port_free "$p" && { echo "$p"; return; }
  done
  die "no free loopback port found"
}

url() {
  running || die "not running (scripts/redis.sh start)"
  echo "redis://127.0.0.1:$(cat "$PORT_FILE")/0"
}

start() {
  if running; then
    url
    return
  fi
  install_redis
  mkdir -p "$STATE_DIR"
  rm -f "$PID_FILE" "$PORT_FILE"
  local port pid
  port=$(pick_port)
  # --daemonize no with & so that the PID is ours; stdin closed, output logged.
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --protected-mode yes --dir "$STATE_DIR" \
    </dev/null >"$LOG_FILE" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$port" >"$PORT_FILE"
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE" "$PORT_FILE"
      die "redis-server exited at start"
    fi
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
      url
      return
    fi
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  rm -f "$PID_FILE" "$PORT_FILE"
  die "redis-server on port $port did not answer PING within 10 s"
}

stop() {
  if running; then
    local pid
    pid=$(cat "$PID_FILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE" "$PORT_FILE" "$LOG_FILE" "$STATE_DIR/dump.rdb"
  rmdir "$STATE_DIR" 2>/dev/null || true
}

status() {
  running || { echo "not running"; return 1; }
  [ "$(redis-cli -h 127.0.0.1 -p "$(cat "$PORT_FILE")" ping 2>/dev/null)" = PONG ] || { echo "not answering"; return 1; }
  url
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  status) status ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
