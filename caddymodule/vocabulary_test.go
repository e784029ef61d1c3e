package caddymodule

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// The vocabulary rule (Handler's doc): every JSON key of the handler is the
// Caddyfile's word for the same setting, grouped like the Caddyfile's
// sections. TestVocabulary checks it both ways, from the syntax comment on
// UnmarshalCaddyfile, so that a new word is covered as soon as it is
// documented.

// vocabStructuralKeys are JSON keys that are no Caddyfile word: the groups the
// words are sorted into, and the parts of a word's arguments.
var vocabStructuralKeys = map[string]string{
	"handler":    "Caddy's module name",
	"account":    "group: the main account's words",
	"resilience": "group: timeout, retries, breaker, dedup's neighbours",
	"guard":      "group: caller_auth, countries, number types, rate_limit, time_limit",
	"shared":     "group: redis, redis_secret, redis_failure",
	"delivery":   "group: status_callback, status_callback_secret, status_poll, receipt_hosts",
	"use":        "mapping <name|file>",
	"sid":        "api_key <SK…> <secret>",
	"secret":     "api_key <SK…> <secret>, caller_auth standard_webhooks|zitadel_signature <secret>",
	"prefix":     "subaccount <+prefix>",
	"number":     "sender <number>",
	"type":       "sender … <type>, caller_auth <type>",
	"channels":   "sender … [sms] [voice]",
	"countries":  "sender … countries <CC>…",
	"key":        "rate_limit <key>",
	"events":     "rate_limit … <events> <window>",
	"window":     "dedup <window>, rate_limit … <window>",
	"off":        "dedup off, rate_limit … off",
	"failures":   "breaker <failures> <cooldown>",
	"cooldown":   "breaker <failures> <cooldown>",
	"header":     "caller_auth header <Name> <value>",
	"value":      "caller_auth header … <value>, caller_auth bearer <token>",
	"username":   "caller_auth basic <user> <password>",
	"password":   "caller_auth basic … <password>",
	"params":     "caller_auth params <name> <value>…",
	"name":       "caller_auth … name <identity> (also the word name)",
}

// vocabularySamples are minimal settings using each word: one or more
// samples, each a list of Caddyfile lines inside the twilio_sms block.
// Secrets are placeholders, never literals.
var vocabularySamples = map[string][][]string{
	"name":                  {{"name vocabulary-route"}},
	"mapping":               {{"mapping generic"}},
	"option":                {{"mapping adselfservice", "option success_marker OK"}},
	"template":              {{"mapping logto", `template Generic "Your code is {{code}}"`}},
	"field":                 {{"field to form:mobile any:phone"}},
	"default_region":        {{"default_region US"}},
	"lenient_numbers":       {{"lenient_numbers"}},
	"assume_numbers":        {{"assume_numbers international"}},
	"credentials":           {{"credentials passthrough"}},
	"account_sid":           {{"account_sid " + vocabSID("AC", 1)}},
	"auth_token":            {{"auth_token {env.TWILIO_AUTH_TOKEN}"}},
	"api_key":               {{"api_key " + vocabSID("SK", 1) + " {env.TWILIO_API_KEY_SECRET}"}},
	"from":                  {{"from +15005550006"}},
	"messaging_service_sid": {{"messaging_service_sid " + vocabSID("MG", 1)}},
	"sender":                {{"sender +15005550006 standard sms voice countries US CA"}},
	"api_url":               {{"api_url http://127.0.0.1:8089"}},
	"studio_url":            {{"studio_url http://127.0.0.1:8089"}},
	"edge":                  {{"edge sydney", "region au1"}},
	"region":                {{"edge dublin", "region ie1"}},
	"studio_flow_sid":       {{"studio_flow_sid " + vocabSID("FW", 1)}},
	"channel":               {{"channel voice"}},
	"subaccount": {{"from +15005550006", "subaccount +91 {", "name india", "account_sid " + vocabSID("AC", 2),
		"from +15005550006", "}"}},
	"fallback":               {{"fallback backup {", "account_sid " + vocabSID("AC", 3), "auth_token {env.BACKUP_AUTH_TOKEN}", "}"}},
	"timeout":                {{"timeout 3s"}},
	"dial_timeout":           {{"dial_timeout 1s"}},
	"retries":                {{"retries 1"}},
	"max_concurrent":         {{"max_concurrent 8"}},
	"max_queue":              {{"max_queue 16"}},
	"breaker":                {{"breaker 3 10s"}},
	"fallback_codes":         {{"fallback_codes 21606 21611"}},
	"fallback_on_5xx":        {{"fallback_on_5xx"}},
	"dedup":                  {{"dedup 1m"}, {"dedup off"}},
	"redis":                  {{"redis redis://127.0.0.1:6379/0", "redis_secret {env.REDIS_SECRET}"}},
	"redis_secret":           {{"redis redis://127.0.0.1:6379/0", "redis_secret {env.REDIS_SECRET}"}},
	"redis_failure":          {{"redis redis://127.0.0.1:6379/0", "redis_secret {env.REDIS_SECRET}", "redis_failure refuse"}},
	"status_callback":        {{"status_callback https://sms.example.com/sms/twilio-status"}},
	"status_callback_secret": {{"status_callback https://sms.example.com/sms/twilio-status", "status_callback_secret {env.STATUS_SECRET}"}},
	"status_poll":            {{"status_poll 30s"}},
	"receipt_hosts":          {{"status_poll 30s", "receipt_hosts dlr.example.com"}},
	"caller_auth": {
		{"caller_auth header X-Api-Key {env.CALLER_KEY} name svc"},
		{"caller_auth basic okta {env.CALLER_PASSWORD}"},
		{"caller_auth bearer {env.CALLER_TOKEN} name bearer"},
		{"caller_auth params username kannel password {env.KANNEL_PASSWORD}"},
		{"caller_auth standard_webhooks {env.SUPABASE_HOOK_SECRET} name supabase"},
		{"caller_auth zitadel_signature {env.ZITADEL_SIGNING_KEY}"},
	},
	"allow_countries":              {{"allow_countries US CA"}},
	"deny_countries":               {{"deny_countries RU"}},
	"allow_number_types":           {{"allow_number_types premium_rate non_geographic"}},
	"rate_limit":                   {{"rate_limit caller 10 1m"}, {"rate_limit destination off"}},
	"time_limit":                   {{"time_limit 60s"}},
	"allow_caller_status_callback": {{"allow_caller_status_callback"}},
}

func vocabSID(prefix string, n int) string { return fmt.Sprintf("%s%032x", prefix, 0x70cab+n) }

// vocabCaddyfileWords returns the subdirectives listed in the syntax comment on
// UnmarshalCaddyfile, in order, and the parsed file.
func vocabCaddyfileWords(t *testing.T) ([]string, *ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "caddyfile.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatalf("parsing caddyfile.go: %v", err)
	}
	var doc *ast.CommentGroup
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "UnmarshalCaddyfile" {
			doc = fn.Doc
		}
	}
	if doc == nil {
		t.Fatalf("no doc comment on UnmarshalCaddyfile")
	}
	var words []string
	inBlock := false
	for _, c := range doc.List {
		line := strings.TrimPrefix(strings.TrimPrefix(c.Text, "//"), "\t")
		switch {
		case strings.HasPrefix(line, "twilio_sms"):
			inBlock = true
			continue
		case inBlock && strings.TrimSpace(line) == "}":
			inBlock = false
			continue
		case !inBlock:
			continue
		}
		// A word line is indented by exactly four spaces; deeper lines
		// continue the previous word's syntax.
		if !strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "     ") {
			continue
		}
		word := strings.Fields(line)[0]
		if strings.HasPrefix(word, "#") {
			continue
		}
		if !slices.Contains(words, word) {
			words = append(words, word)
		}
	}
	if len(words) < 20 {
		t.Fatalf("found only %d words in the syntax comment on UnmarshalCaddyfile: %q", len(words), words)
	}
	return words, f
}

// vocabParsedWords are the string cases of every `switch name` in the Caddyfile
// parser: the words it accepts.
func vocabParsedWords(f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		sw, ok := n.(*ast.SwitchStmt)
		if !ok {
			return true
		}
		if id, ok := sw.Tag.(*ast.Ident); !ok || id.Name != "name" {
			return true
		}
		for _, st := range sw.Body.List {
			for _, e := range st.(*ast.CaseClause).List {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && !slices.Contains(out, s) {
						out = append(out, s)
					}
				}
			}
		}
		return true
	})
	return out
}

// vocabStructKeys walks the json tags of t's exported fields (embedded structs
// inline) and returns every key with its path.
func vocabStructKeys(t reflect.Type, path string, out map[string][]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		if t.Kind() == reflect.Slice {
			path += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			vocabStructKeys(f.Type, path, out)
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		out[name] = append(out[name], p)
		vocabStructKeys(f.Type, p, out)
	}
}

// vocabJSONKeyPaths returns the path of every object key in v, and each
// path's value as JSON.
func vocabJSONKeyPaths(v any, path string, out map[string][]string, values map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out[k] = append(out[k], p)
			b, _ := json.Marshal(x[k])
			values[p] = string(b)
			vocabJSONKeyPaths(x[k], p, out, values)
		}
	case []any:
		for i, e := range x {
			vocabJSONKeyPaths(e, fmt.Sprintf("%s[%d]", path, i), out, values)
		}
	}
}

// vocabAdapt adapts a Caddyfile and returns the keys of its one twilio_sms
// handler with their paths, and every path's value.
func vocabAdapt(t *testing.T, cf string) (paths map[string][]string, values map[string]string) {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		t.Fatal("no caddyfile adapter registered")
	}
	out, warnings, err := adapter.Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	for _, w := range warnings {
		t.Logf("warning: %s", w.Message)
	}
	var cfg any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("the adapted config is not JSON: %v", err)
	}
	hs := vocabFindHandlers(cfg, "twilio_sms")
	if len(hs) != 1 {
		t.Fatalf("%d twilio_sms handlers in the adapted config, want 1", len(hs))
	}
	paths, values = map[string][]string{}, map[string]string{}
	vocabJSONKeyPaths(hs[0], "", paths, values)
	return paths, values
}

// vocabFindHandlers returns every object with "handler": name in v.
func vocabFindHandlers(v any, name string) []map[string]any {
	var out []map[string]any
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == name {
			out = append(out, x)
		}
		for _, e := range x {
			out = append(out, vocabFindHandlers(e, name)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, vocabFindHandlers(e, name)...)
		}
	}
	return out
}

// vocabularyCaddyfile is a site with one twilio_sms block holding lines,
// plus the main account's SID and token unless lines set them (or choose
// another kind of credentials).
func vocabularyCaddyfile(lines []string) string {
	has := func(word string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Fields(l)[0] == word })
	}
	var b strings.Builder
	b.WriteString("{\n\tadmin off\n}\n\n:8080 {\n\ttwilio_sms {\n")
	if !has("account_sid") {
		b.WriteString("\t\taccount_sid " + vocabSID("AC", 1) + "\n")
	}
	if !has("auth_token") && !has("api_key") && !has("credentials") {
		b.WriteString("\t\tauth_token {env.TWILIO_AUTH_TOKEN}\n")
	}
	depth := 2
	for _, l := range lines {
		if l == "}" {
			depth--
		}
		b.WriteString(strings.Repeat("\t", depth) + l + "\n")
		if strings.HasSuffix(l, "{") {
			depth++
		}
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// TestVocabulary: every subdirective in the syntax comment on
// UnmarshalCaddyfile is accepted by the Caddyfile adapter and becomes a JSON
// key of the same name in the twilio_sms handler (nested in its group);
// every word the parser accepts is in that comment; and every JSON key of
// the Handler struct is a Caddyfile word or one of vocabStructuralKeys. Run with
// -v to see each word's JSON path.
func TestVocabulary(t *testing.T) {
	words, file := vocabCaddyfileWords(t)
	for _, w := range vocabParsedWords(file) {
		if !slices.Contains(words, w) {
			t.Errorf("the Caddyfile parser accepts %q, which the syntax comment on UnmarshalCaddyfile does not list", w)
		}
	}

	// What an empty block adapts to: a word's key must differ from it.
	_, empty := vocabAdapt(t, "{\n\tadmin off\n}\n\n:8080 {\n\ttwilio_sms {\n\t}\n}\n")
	for _, word := range words {
		samples, ok := vocabularySamples[word]
		if !ok {
			t.Errorf("%s: no sample in vocabularySamples; add one for the new word", word)
			continue
		}
		for i, lines := range samples {
			t.Run(fmt.Sprintf("%s/%d", word, i), func(t *testing.T) {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.Fields(l)[0] == word }) {
					t.Fatalf("the sample %q does not use %s", lines, word)
				}
				paths, values := vocabAdapt(t, vocabularyCaddyfile(lines))
				var set []string // the word's keys that the sample set
				for _, p := range paths[word] {
					if values[p] != empty[p] {
						set = append(set, p)
					}
				}
				if len(set) == 0 {
					keys := make([]string, 0, len(paths))
					for k := range paths {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					t.Fatalf("the Caddyfile word %s sets no JSON key of that name (keys of that name: %q; the handler's keys: %q)",
						word, paths[word], keys)
				}
				t.Logf("%-30s → %s", word, strings.Join(set, ", "))
			})
		}
	}

	keys := map[string][]string{}
	vocabStructKeys(reflect.TypeFor[Handler](), "", keys)
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		_, structural := vocabStructuralKeys[k]
		if !slices.Contains(words, k) && !structural {
			t.Errorf("the Handler JSON key %q (%s) is neither a Caddyfile word nor a documented structural key",
				k, strings.Join(keys[k], ", "))
		}
	}
	for k := range vocabStructuralKeys {
		if k != "handler" && len(keys[k]) == 0 {
			t.Logf("structural key %q is no longer a Handler JSON key", k)
		}
	}
}
