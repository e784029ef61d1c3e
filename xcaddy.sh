#!/usr/bin/env bash
# Builds ./caddy with the twilio_sms adapter and Caddy's standard modules.
#
#   ./xcaddy.sh            build ./caddy
#   ./xcaddy.sh run [...]  build, then run the top-level Caddyfile (quick start)
#   ./xcaddy.sh <caddy args>  build, then run ./caddy with those arguments
#
# The default path is a plain `go build` of ./cmd/caddy, whose main.go is the
# one xcaddy generates for `--with github.com/twilio-sms-adapter/caddy-twilio-sms`
# (Caddy's standard modules and this module's root package). Set USE_XCADDY=1
# to build with xcaddy when it is on PATH. xcaddy's own build runs `go get` on
# this module, which asks the module proxy for a version it does not have
# while the module is unpublished: where the proxy refuses that (this machine's
# does), scripts/xcaddy-check.sh does the same build without xcaddy.
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
