// Package mappings holds the built-in mapping files, embedded in the binary.
// Each NAME.json here is available to the twilio_sms directive as `mapping NAME`:
//
//	generic        a plain gateway: to, from, message as form, JSON or query
//	adselfservice  ManageEngine ADSelfService Plus / ADManager Plus Custom SMS provider
//	pingone        PingOne custom SMS/Voice provider (Messages, Studio flow or Calls)
//	netiq          NetIQ / OpenText Advanced Authentication Generic SMS sender
//	logto          Logto HTTP SMS connector, texts from per-type templates
//	twilio         Twilio's own Messages and Calls API, answered as Twilio would
//	okta           Okta telephony inline hook: SMS, or a call speaking the code, answered as Okta's commands or error
//	supabase       Supabase Auth Send SMS hook (Standard Webhooks), the text from templates
//	kannel         Kannel smsbox sendsms (GET), answered as Kannel 1.4.5 answers
//	jasmin         Jasmin HTTP API /send (GET or POST form), answered with Jasmin's lines
//	zitadel        Zitadel HTTP SMS provider (ZITADEL-Signature), templateData.Text
//	fusionauth     FusionAuth Generic Messenger (SMS, and Voice as a call)
//	authentik      authentik SMS authenticator, Generic provider (short texts shown to the user)
//	kratos         Ory Kratos courier HTTP channel (10m dedup across its re-sends)
//	privacyidea    privacyIDEA / eduMFA HttpSMSProvider (RETURN_SUCCESS / RETURN_FAIL markers)
//	rsa_am         RSA Authentication Manager SMS HTTP plug-in (RESULT:OK)
//
// examples/<name>/ has a Caddyfile, the product's settings and a request.sh for each.
//
// The files are JSON with comments (// and /* */) and trailing commas allowed;
// generic.json shows both. schema.json describes every key, and is the only
// check of a mapping file's shape (package internal/schema runs it, for
// built-ins and files alike); REFERENCE.md is rendered from it by
// `go generate ./internal/schema` and must not be edited by hand.
package mappings

import (
	"embed"
	"io/fs"
	"path"
	"slices"
	"strings"
)

//go:embed *.json
var files embed.FS

// FS is the embedded files, for tools (the check command, tests).
var FS fs.FS = files

// Read returns the built-in mapping called name, and whether it exists.
func Read(name string) ([]byte, bool) {
	if strings.ContainsAny(name, "/\\.") || name == "schema" {
		return nil, false
	}
	data, err := files.ReadFile(name + ".json")
	return data, err == nil
}

// Names lists the built-in mappings.
func Names() []string {
	entries, _ := files.ReadDir(".")
	var out []string
	for _, e := range entries {
		n := strings.TrimSuffix(e.Name(), path.Ext(e.Name()))
		if n != "schema" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
