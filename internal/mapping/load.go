package mapping

import (
	"fmt"
	"os"
	"strings"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// IsBuiltin reports whether ref names a built-in mapping rather than a file.
func IsBuiltin(ref string) bool {
	return !strings.ContainsAny(ref, `/\.`)
}

// Load reads a mapping: a built-in name ("pingone") or a file path. It returns
// the parsed spec and the name used in errors ("builtin:pingone" or the path).
func Load(ref string) (*Spec, string, error) {
	if IsBuiltin(ref) {
		data, ok := mappings.Read(ref)
		if !ok {
			return nil, "", fmt.Errorf("unknown built-in mapping %q (built-in: %s; or give a path to a .json file)", ref, strings.Join(mappings.Names(), ", "))
		}
		file := "builtin:" + ref
		s, err := Parse(file, data)
		return s, file, err
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return nil, ref, fmt.Errorf("mapping %s: %w", ref, err)
	}
	s, err := Parse(ref, data)
	return s, ref, err
}
