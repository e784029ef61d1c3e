// Command caddy is Caddy with the twilio_sms adapter and Caddy's standard
// modules: the main package xcaddy generates for
//
//	xcaddy build --with github.com/twilio-sms-adapter/caddy-twilio-sms
//
// so that a plain `go build ./cmd/caddy` (what ./xcaddy.sh does) builds the
// same binary. scripts/xcaddy-check.sh builds xcaddy's own main file against
// this checkout to prove the --with line works.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/twilio-sms-adapter/caddy-twilio-sms"
)

func main() {
	caddycmd.Main()
}
