// Command caddy is Caddy with the twilio_sms adapter and Caddy's standard modules,
// built with plain `go build` where xcaddy is not available.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/twilio-sms-adapter/caddy-twilio-sms/caddymodule"
)

func main() {
	caddycmd.Main()
}
