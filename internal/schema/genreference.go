//go:build ignore

// genreference writes the mapping file reference rendered from
// mappings/schema.json (schema.Reference) to the file named by its argument.
// Run it with `go generate ./internal/schema`.
package main

import (
	"fmt"
	"os"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/schema"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run genreference.go <output.md>")
		os.Exit(2)
	}
	out, err := schema.Reference()
	if err == nil {
		err = os.WriteFile(os.Args[1], out, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genreference:", err)
		os.Exit(1)
	}
}
