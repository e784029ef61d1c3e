#!/usr/bin/env bash
# Builds ./caddy with the twilio_sms adapter and Caddy's standard modules.
#
#   ./xcaddy.sh            build ./caddy
#   ./xcaddy.sh run [...]  build, then run the top-level Caddyfile (quick start)
#   ./xcaddy.sh <caddy args>  build, then run ./caddy with those arguments
#
# xcaddy cannot be fetched through the Go module proxy, so the default path is a
# plain `go build` of ./cmd/caddy (the same main package xcaddy would generate).
# Set USE_XCADDY=1 to build with xcaddy when it is on PATH.
set -euo pipefail
cd "$(dirname "$0")"

out=${CADDY_BIN:-./caddy}
if [[ "${USE_XCADDY:-0}" == 1 ]] && command -v xcaddy >/dev/null 2>&1; then
  xcaddy build --output "$out" --with github.com/twilio-sms-adapter/caddy-twilio-sms=.
else
  go build -trimpath -o "$out" ./cmd/caddy
fi

case "${1:-}" in
  "") ;;
  run) shift; exec "$out" run --config Caddyfile --adapter caddyfile "$@" ;;
  *) exec "$out" "$@" ;;
esac
