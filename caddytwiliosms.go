// Package caddytwiliosms plugs the twilio_sms adapter into Caddy. Import it for
// its side effects, as xcaddy's generated main does:
//
//	xcaddy build --with github.com/twilio-sms-adapter/caddy-twilio-sms
//
// or, in a main package of your own:
//
//	import (
//		caddycmd "github.com/caddyserver/caddy/v2/cmd"
//		_ "github.com/caddyserver/caddy/v2/modules/standard"
//		_ "github.com/twilio-sms-adapter/caddy-twilio-sms"
//	)
//
//	func main() { caddycmd.Main() }
//
// Importing it registers:
//
//	http.handlers.twilio_sms        the adapter; Caddyfile directive twilio_sms (ordered before reverse_proxy)
//	http.handlers.twilio_simulator  an offline Twilio for tests and the quick start; directive twilio_simulator
//	caddy twilio-sms                the check, explain and test commands
//
// The code lives in the caddymodule package and in packages under internal/.
package caddytwiliosms

import (
	// Registers the modules, the Caddyfile directives and the commands.
	_ "github.com/twilio-sms-adapter/caddy-twilio-sms/caddymodule"
)
