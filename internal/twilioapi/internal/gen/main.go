// Command gen writes params_gen.go of package twilioapi from Twilio's OpenAPI spec. Run it
// through go generate in internal/twilioapi:
//
//	go generate ./internal/twilioapi
//
// Without the spec it says so and leaves params_gen.go alone (exit status 0).
package main

import (
	"fmt"
	"os"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi/internal/paramgen"
)

func main() {
	file := paramgen.SpecFile()
	if file == "" {
		fmt.Fprintf(os.Stderr, "gen: %s not found in ../shared/twilio-oai next to the repository root (or $TWILIO_OAI_DIR): %s left as is\n",
			paramgen.SpecName, paramgen.Output)
		return
	}
	spec, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	out, err := paramgen.Generate(spec)
	if err != nil {
		fail(fmt.Errorf("%s: %w", file, err))
	}
	if err := os.WriteFile(paramgen.Output, out, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}
