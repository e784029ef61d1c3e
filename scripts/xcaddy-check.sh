#!/usr/bin/env bash
# Proves that the documented
#
#   xcaddy build --with github.com/twilio-sms-adapter/caddy-twilio-sms
#
# works, without xcaddy: it does what `xcaddy build --with
# github.com/twilio-sms-adapter/caddy-twilio-sms=<this checkout>` does. In a
# temporary folder it writes the main.go that xcaddy generates (its
# mainModuleTemplate, in caddyserver/xcaddy environment.go, with this module as
# the only plugin), a go.mod for module "caddy" that requires Caddy and this
# module with a replace pointing at the checkout, resolves the rest with
# `go mod tidy`, builds, and checks that the binary lists both modules and the
# twilio-sms command.
#
#   scripts/xcaddy-check.sh            build and check; the binary is removed
#   scripts/xcaddy-check.sh -o FILE    also keep the binary as FILE
#
# The Caddy version is the one this module's go.mod requires (CADDY_VERSION
# overrides it), so the build matches what `xcaddy build <that version>` makes.
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)
module=github.com/twilio-sms-adapter/caddy-twilio-sms
keep=""
if [[ "${1:-}" == -o ]]; then keep=$(realpath -m "$2"); fi

caddy_version=${CADDY_VERSION:-$(cd "$checkout" && go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)}
go_version=$(cd "$checkout" && go list -m -f '{{.GoVersion}}')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xcaddy-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# xcaddy's mainModuleTemplate, evaluated with CaddyModule
# github.com/caddyserver/caddy/v2 and Plugins [this module].
cat >main.go <<MAIN
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "$module"
)

func main() {
	caddycmd.Main()
}
MAIN

# xcaddy: go mod init caddy; go mod edit -replace; go get caddy@version and
# the plugin. go mod tidy resolves the same graph in one step.
cat >go.mod <<MOD
module caddy

go $go_version

require (
	github.com/caddyserver/caddy/v2 $caddy_version
	$module v0.0.0-00010101000000-000000000000
)

replace $module => $checkout
MOD

echo "xcaddy-check: $tmp: caddy $caddy_version + $module => $checkout"
GOFLAGS=-mod=mod go mod tidy
GOFLAGS=-mod=mod go build -trimpath -o caddy .

./caddy list-modules >modules.txt
for id in http.handlers.twilio_sms http.handlers.twilio_simulator; do
  grep -qx "$id" modules.txt || { echo "xcaddy-check: $id is not in list-modules"; cat modules.txt; exit 1; }
  echo "xcaddy-check: $id registered"
done
./caddy help twilio-sms >/dev/null || { echo "xcaddy-check: no twilio-sms command"; exit 1; }
echo "xcaddy-check: twilio-sms command registered"
# The plugin must be this checkout, not a copy fetched from elsewhere.
# build-info prints a replaced dependency as a dep line and a "=>" line after it.
./caddy build-info | grep -A1 -E "^dep[[:space:]]+$module[[:space:]]" | grep -qE "^=>[[:space:]]+$checkout([[:space:]]|\$)" ||
  { echo "xcaddy-check: the binary does not use the checkout:"; ./caddy build-info | grep -A1 "$module"; exit 1; }
if [[ -n "$keep" ]]; then cp caddy "$keep"; echo "xcaddy-check: kept $keep"; fi
echo "xcaddy-check: ok"
