package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// SIDs for parser and provisioning tests, which send nothing.
const (
	cfMain  = "AC00000000000000000000000000000a01"
	cfSub   = "AC00000000000000000000000000000a02"
	cfBack  = "AC00000000000000000000000000000a03"
	cfKey   = "SK00000000000000000000000000000a04"
	cfMG    = "MG00000000000000000000000000000a05"
	cfFlow  = "FW00000000000000000000000000000a06"
	cfToken = "cf-parse-token"
)

func dur(s string) caddy.Duration {
	d, err := caddy.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return caddy.Duration(d)
}

func intPtr(n int) *int { return &n }

func TestUnmarshalCaddyfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  Handler
	}{
		{
			name:  "bare directive",
			input: `twilio_sms`,
			want:  Handler{},
		},
		{
			name:  "mapping as argument, empty block",
			input: "twilio_sms generic {\n}",
			want:  Handler{Mapping: MappingConfig{Use: "generic"}},
		},
		{
			name: "quick start",
			input: `twilio_sms generic {
				account_sid AC00000000000000000000000000000001
				auth_token  quickstart-token
				from        +15005550006
				api_url     http://127.0.0.1:8081
				studio_url  http://127.0.0.1:8081
				timeout     3s
			}`,
			want: Handler{
				Mapping: MappingConfig{Use: "generic"},
				Account: AccountConfig{AccountSID: "AC00000000000000000000000000000001", AuthToken: "quickstart-token",
					From: "+15005550006", APIURL: "http://127.0.0.1:8081", StudioURL: "http://127.0.0.1:8081"},
				Resilience: ResilienceConfig{Timeout: dur("3s")},
			},
		},
		{
			name: "mapping as subdirective, secrets as placeholders",
			input: `twilio_sms {
				mapping     ./mappings/custom.json
				account_sid {env.TWILIO_ACCOUNT_SID}
				auth_token  {file./run/secrets/twilio_token}
			}`,
			want: Handler{Mapping: MappingConfig{Use: "./mappings/custom.json"}, Account: AccountConfig{AccountSID: "{env.TWILIO_ACCOUNT_SID}", AuthToken: "{file./run/secrets/twilio_token}"}},
		},
		{
			name: "api_key: the credentials are inferred from what is set",
			input: `twilio_sms {
				account_sid ` + cfMain + `
				api_key ` + cfKey + ` key-secret
			}`,
			want: Handler{Account: AccountConfig{AccountSID: cfMain, APIKey: &APIKeyConfig{SID: cfKey, Secret: "key-secret"}}},
		},
		{
			name: "credentials passthrough",
			input: `twilio_sms {
				credentials passthrough
			}`,
			want: Handler{Credentials: CredentialsPassthrough},
		},
		{
			name: "NetIQ sender form and messaging service",
			input: `twilio_sms netiq {
				from 91\9191919191
				messaging_service_sid ` + cfMG + `
			}`,
			want: Handler{Mapping: MappingConfig{Use: "netiq"}, Account: AccountConfig{From: `91\9191919191`, MessagingServiceSID: cfMG}},
		},
		{
			name: "typed senders (PingOne origination list)",
			input: `twilio_sms {
				sender 894546 short_code sms
				sender +18005550199 toll_free sms voice countries US CA
				sender +14155550100
				sender +442071234567 voice standard
			}`,
			want: Handler{Account: AccountConfig{Sender: []SenderConfig{
				{Number: "894546", Type: "short_code", Channels: []string{"sms"}},
				{Number: "+18005550199", Type: "toll_free", Channels: []string{"sms", "voice"}, Countries: []string{"US", "CA"}},
				{Number: "+14155550100"},
				{Number: "+442071234567", Type: "standard", Channels: []string{"voice"}},
			}}},
		},
		{
			name: "subaccounts by dialing code (NetIQ)",
			input: `twilio_sms {
				subaccount +91 {
					name india
					account_sid ` + cfSub + `
					auth_token sub-token
					from 91\9191919191
				}
				subaccount 44 {
					name uk
					account_sid ` + cfBack + `
					api_key ` + cfKey + ` key-secret
					messaging_service_sid ` + cfMG + `
					api_url https://api.example.test
					studio_url https://studio.example.test
				}
				subaccount +1876 {
					name jamaica
					account_sid ` + cfSub + `
					sender +18765550123 standard sms countries JM
					sender 894546 short_code
					edge sydney
					region au1
				}
			}`,
			want: Handler{Subaccount: []SubaccountConfig{
				{Prefix: "+91", AccountConfig: AccountConfig{Name: "india", AccountSID: cfSub, AuthToken: "sub-token", From: `91\9191919191`}},
				{Prefix: "44", AccountConfig: AccountConfig{Name: "uk", AccountSID: cfBack, APIKey: &APIKeyConfig{SID: cfKey, Secret: "key-secret"},
					MessagingServiceSID: cfMG, APIURL: "https://api.example.test", StudioURL: "https://studio.example.test"}},
				{Prefix: "+1876", AccountConfig: AccountConfig{Name: "jamaica", AccountSID: cfSub, Edge: "sydney", Region: "au1", Sender: []SenderConfig{
					{Number: "+18765550123", Type: "standard", Channels: []string{"sms"}, Countries: []string{"JM"}},
					{Number: "894546", Type: "short_code"},
				}}},
			}},
		},
		{
			name: "fallback chain and its policy",
			input: `twilio_sms {
				fallback backup {
					account_sid ` + cfBack + `
					auth_token back-token
				}
				fallback ping {
					name renamed
					account_sid ` + cfSub + `
				}
				fallback_codes 21606 21611
				fallback_on_5xx
			}`,
			want: Handler{
				Fallback: []AccountConfig{
					{Name: "backup", AccountSID: cfBack, AuthToken: "back-token"},
					{Name: "renamed", AccountSID: cfSub},
				},
				Resilience: ResilienceConfig{FallbackCodes: []int{21606, 21611}, FallbackOn5xx: true},
			},
		},
		{
			name: "reliability settings",
			input: `twilio_sms {
				retries 0
				max_concurrent 8
				max_queue 64
				breaker 3 10s
				dedup 90s
				timeout 2.5s
				dial_timeout 500ms
			}`,
			want: Handler{Resilience: ResilienceConfig{Retries: intPtr(0), MaxConcurrent: 8, MaxQueue: intPtr(64),
				Breaker: &BreakerConfig{Failures: 3, Cooldown: dur("10s")}, Timeout: dur("2.5s"), DialTimeout: dur("500ms")},
				Dedup: DedupConfig{Window: dur("90s")}},
		},
		{
			name:  "dedup off",
			input: "twilio_sms {\n dedup off\n}",
			want:  Handler{Dedup: DedupConfig{Off: true}},
		},
		{
			name: "guards",
			input: `twilio_sms {
				caller_auth header X-Api-Key key-value
				caller_auth basic idp idp-password
				caller_auth header Authorization "Bearer abc def"
				allow_countries US GB IN
				deny_countries KP
				rate_limit destination 3 10m
				rate_limit caller 100 1m
				allow_number_types premium_rate uan
				time_limit 60s
				allow_caller_status_callback
			}`,
			want: Handler{Guard: GuardConfig{
				CallerAuth: []CallerCredential{
					{Type: "header", Header: "X-Api-Key", Value: "key-value"},
					{Type: "basic", Username: "idp", Password: "idp-password"},
					{Type: "header", Header: "Authorization", Value: "Bearer abc def"},
				},
				AllowCountries: []string{"US", "GB", "IN"}, DenyCountries: []string{"KP"},
				RateLimit:        []RateLimitConfig{{Key: "destination", Events: 3, Window: dur("10m")}, {Key: "caller", Events: 100, Window: dur("1m")}},
				AllowNumberTypes: []string{"premium_rate", "uan"}, TimeLimit: dur("60s"), AllowCallerStatusCallback: true,
			}},
		},
		{
			name: "a caller credential's identity, a limit turned off",
			input: `twilio_sms {
				caller_auth header X-Api-Key key-value name okta
				rate_limit destination off
			}`,
			want: Handler{Guard: GuardConfig{
				CallerAuth: []CallerCredential{{Type: "header", Header: "X-Api-Key", Value: "key-value", Name: "okta"}},
				RateLimit:  []RateLimitConfig{{Key: "destination", Off: true}},
			}},
		},
		{
			name: "mapping overrides",
			input: `twilio_sms adselfservice {
				option success_marker "<sid>"
				option failure_marker "<Code>"
				template SignIn "Your sign-in code is {{code}}"
				template Register "Welcome: {{code}}"
				field to form:mobileNumber query:mobile
				field message body
				name ads-prod
				default_region IN
				lenient_numbers
				assume_numbers international
				channel voice
				studio_flow_sid ` + cfFlow + `
				edge dublin
				region ie1
			}`,
			want: Handler{
				Mapping: MappingConfig{
					Use:           "adselfservice",
					Option:        map[string]string{"success_marker": "<sid>", "failure_marker": "<Code>"},
					Template:      map[string]string{"SignIn": "Your sign-in code is {{code}}", "Register": "Welcome: {{code}}"},
					Field:         map[string][]string{"to": {"form:mobileNumber", "query:mobile"}, "message": {"body"}},
					DefaultRegion: "IN", LenientNumbers: true, AssumeNumbers: "international",
				},
				Name: "ads-prod", Channel: "voice", StudioFlowSID: cfFlow,
				Account: AccountConfig{Edge: "dublin", Region: "ie1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Handler
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// TestUnmarshalCaddyfileErrors covers every error branch of the parser.
func TestUnmarshalCaddyfileErrors(t *testing.T) {
	t.Parallel()
	const argErr = "wrong argument count"
	block := func(lines ...string) string {
		return "twilio_sms {\n" + strings.Join(lines, "\n") + "\n}"
	}
	sub := func(lines ...string) string {
		return block("subaccount +91 {", strings.Join(lines, "\n"), "}")
	}
	tests := []struct {
		name, input, want string
	}{
		{"two directive arguments", "twilio_sms generic extra", argErr},
		{"mapping as argument and subdirective", "twilio_sms generic {\nmapping generic\n}", "mapping is set twice"},
		{"mapping twice", block("mapping generic", "mapping netiq"), "mapping is set twice"},
		{"string setting without value", block("account_sid"), argErr},
		{"string setting with two values", block("auth_token a b"), argErr},
		{"credentials twice", block("credentials passthrough", "credentials passthrough"), "credentials is set twice"},
		{"credentials other than passthrough", block("credentials stored"), "credentials takes only passthrough"},
		{"assume_numbers unknown", block("assume_numbers local"), "assume_numbers must be international or national"},
		{"allow_number_types without types", block("allow_number_types"), argErr},
		{"time_limit zero", block("time_limit 0s"), "time_limit must be positive"},
		{"rate_limit off with events", block("rate_limit destination off 1m"), "rate_limit: events must be a positive integer"},
		{"rate_limit with a wrong word", block("rate_limit destination none"), "want <events> <window>, or off"},
		{"caller_auth with a name but no identity", block("caller_auth header X-Api-Key v name"), argErr},
		{"from twice", block("from +15005550006", "from +15005550006"), "from is set twice"},
		{"default_region twice", block("default_region US", "default_region GB"), "default_region is set twice"},
		{"api_key with one argument", block("api_key " + cfKey), argErr},
		{"api_key with three arguments", block("api_key " + cfKey + " a b"), argErr},
		{"api_key twice", block("api_key "+cfKey+" a", "api_key "+cfKey+" b"), "api_key is set twice"},
		{"timeout without value", block("timeout"), argErr},
		{"timeout twice", block("timeout 1s", "timeout 2s"), "timeout is set twice"},
		{"timeout not a duration", block("timeout soon"), "timeout:"},
		{"timeout zero", block("timeout 0s"), "timeout must be positive"},
		{"dial_timeout negative", block("dial_timeout -1s"), "dial_timeout must be positive"},
		{"dial_timeout not a duration", block("dial_timeout 5 seconds"), argErr},
		{"lenient_numbers with argument", block("lenient_numbers yes"), argErr},
		{"lenient_numbers twice", block("lenient_numbers", "lenient_numbers"), "lenient_numbers is set twice"},
		{"option without value", block("option success_marker"), argErr},
		{"option twice", block("option success_marker a", "option success_marker b"), "option success_marker is set twice"},
		{"template twice", block("template SignIn a", "template SignIn b"), "template SignIn is set twice"},
		{"template without key", block("template"), argErr},
		{"field without source", block("field to"), argErr},
		{"field twice", block("field to form:a", "field to form:b"), "field to is set twice"},
		{"field source without kind", block("field to mobileNumber"), `source "mobileNumber" must be kind:arg`},
		{"name twice", block("name a", "name b"), "name is set twice"},
		{"edge without value", block("edge"), argErr},
		{"region twice", block("region ie1", "region au1"), "region is set twice"},
		{"sender without number", block("sender"), argErr},
		{"sender type twice", block("sender 894546 short_code toll_free"), "sender 894546: type given twice"},
		{"sender unknown word", block("sender +14155550100 mms"), `sender +14155550100: unexpected "mms"`},
		{"sender countries without region", block("sender +14155550100 sms countries"), "countries needs at least one region"},
		{"subaccount without prefix", block("subaccount {", "}"), argErr},
		{"subaccount with two prefixes", block("subaccount +91 +92 {", "}"), argErr},
		{"subaccount prefix twice", block("subaccount +91 {", "name a", "account_sid "+cfSub, "}", "subaccount +91 {", "name b", "account_sid "+cfSub, "}"), "subaccount +91 is set twice"},
		{"subaccount without block", block("subaccount +91"), "the account needs a name"},
		{"subaccount without name", sub("account_sid " + cfSub), "the account needs a name"},
		{"subaccount without account_sid", sub("name india"), "account india needs an account_sid"},
		{"subaccount unknown setting", sub("name india", "account_sid "+cfSub, "timeout 1s"), `unrecognized account subdirective "timeout"`},
		{"subaccount setting twice", sub("name india", "account_sid "+cfSub, "account_sid "+cfSub), "account_sid is set twice"},
		{"subaccount setting without value", sub("name"), argErr},
		{"subaccount api_key with one argument", sub("name india", "account_sid "+cfSub, "api_key "+cfKey), argErr},
		{"subaccount api_key twice", sub("name india", "account_sid "+cfSub, "api_key "+cfKey+" a", "api_key "+cfKey+" b"), "api_key is set twice"},
		{"subaccount bad sender", sub("name india", "account_sid "+cfSub, "sender +919191919191 pager"), `unexpected "pager"`},
		{"fallback without label", block("fallback {", "}"), argErr},
		{"fallback with two labels", block("fallback a b {", "}"), argErr},
		{"fallback label twice", block("fallback a {", "account_sid "+cfBack, "}", "fallback a {", "account_sid "+cfBack, "}"), "fallback a is set twice"},
		{"fallback without account_sid", block("fallback backup {", "auth_token x", "}"), "account backup needs an account_sid"},
		{"fallback with an empty name", block(`fallback "" {`, "account_sid "+cfBack, "}"), "the account needs a name"},
		{"fallback unknown setting", block("fallback backup {", "account_sid "+cfBack, "prefix +91", "}"), `unrecognized account subdirective "prefix"`},
		{"fallback_codes without codes", block("fallback_codes"), argErr},
		{"fallback_codes twice", block("fallback_codes 21606", "fallback_codes 21611"), "fallback_codes is set twice"},
		{"fallback_codes not a number", block("fallback_codes 21606 queue-full"), `fallback_codes: "queue-full" is not a Twilio error code`},
		{"fallback_codes too short", block("fallback_codes 429"), `fallback_codes: "429" is not a Twilio error code`},
		{"fallback_codes too long", block("fallback_codes 100000"), `fallback_codes: "100000" is not a Twilio error code`},
		{"fallback_on_5xx with argument", block("fallback_on_5xx true"), argErr},
		{"fallback_on_5xx twice", block("fallback_on_5xx", "fallback_on_5xx"), "fallback_on_5xx is set twice"},
		{"dedup twice", block("dedup off", "dedup 1m"), "dedup is set twice"},
		{"retries without value", block("retries"), argErr},
		{"retries twice", block("retries 1", "retries 2"), "retries is set twice"},
		{"retries not a number", block("retries many"), "retries must be a non-negative integer"},
		{"retries negative", block("retries -1"), "retries must be a non-negative integer"},
		{"max_queue too large", block("max_queue 100001"), "max_queue must be a non-negative integer"},
		{"max_concurrent zero", block("max_concurrent 0"), "max_concurrent must be at least 1"},
		{"breaker with one argument", block("breaker 5"), argErr},
		{"breaker twice", block("breaker 5 30s", "breaker 3 10s"), "breaker is set twice"},
		{"breaker failures zero", block("breaker 0 30s"), "breaker: failures must be a positive integer"},
		{"breaker failures not a number", block("breaker five 30s"), "breaker: failures must be a positive integer"},
		{"breaker cooldown not a duration", block("breaker 5 later"), "breaker: cooldown must be a positive duration"},
		{"breaker cooldown zero", block("breaker 5 0s"), "breaker: cooldown must be a positive duration"},
		{"dedup without value", block("dedup"), argErr},
		{"dedup zero", block("dedup 0s"), "dedup: want a positive window (e.g. 2m) or off"},
		{"dedup not a duration", block("dedup a-while"), "dedup: want a positive window"},
		{"caller_auth with two arguments", block("caller_auth header X-Api-Key"), argErr},
		{"caller_auth with four arguments", block("caller_auth basic u p extra"), argErr},
		{"caller_auth unknown type", block("caller_auth hmac X-Api-Key v"), `caller_auth: type must be header, basic, bearer, params, standard_webhooks or zitadel_signature, not "hmac"`},
		{"caller_auth bearer with two arguments", block("caller_auth bearer a b"), argErr},
		{"caller_auth params without a value", block("caller_auth params username"), "caller_auth params: want <name> <value> pairs"},
		{"caller_auth params twice", block("caller_auth params username a username b"), `parameter "username" is given twice`},
		{"allow_countries without countries", block("allow_countries"), argErr},
		{"allow_countries twice", block("allow_countries US", "allow_countries GB"), "allow_countries is set twice"},
		{"deny_countries twice", block("deny_countries KP", "deny_countries IR"), "deny_countries is set twice"},
		{"rate_limit with two arguments", block("rate_limit destination 3"), "want <events> <window>, or off"},
		{"rate_limit key twice", block("rate_limit caller 3 1m", "rate_limit caller 5 1m"), "rate_limit caller is set twice"},
		{"rate_limit unknown key", block("rate_limit ip 3 1m"), `rate_limit: key must be destination or caller, not "ip"`},
		{"rate_limit events zero", block("rate_limit destination 0 1m"), "rate_limit: events must be a positive integer"},
		{"rate_limit events not a number", block("rate_limit destination x 1m"), "rate_limit: events must be a positive integer"},
		{"rate_limit window not a duration", block("rate_limit destination 3 hourly"), "rate_limit: window must be a positive duration"},
		{"rate_limit window zero", block("rate_limit destination 3 0s"), "rate_limit: window must be a positive duration"},
		{"unknown subdirective", block("verbose"), `unrecognized twilio_sms subdirective "verbose"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestSimulatorUnmarshalCaddyfile(t *testing.T) {
	t.Parallel()
	input := `twilio_simulator {
		account ` + cfMain + ` main-token {
			api_key ` + cfKey + ` key-secret
			sender +15005550006 894546
			sender +14155550100
		}
		account ` + cfSub + ` {
			auth_token sub-token
			parent ` + cfMain + `
		}
		max_concurrent 4
		latency 10ms
		max_records 100
	}`
	want := Simulator{
		Account: []SimulatorAccount{
			{AccountSID: cfMain, AuthToken: "main-token", APIKey: []APIKeyConfig{{SID: cfKey, Secret: "key-secret"}}, Sender: []string{"+15005550006", "894546", "+14155550100"}},
			{AccountSID: cfSub, AuthToken: "sub-token", Parent: cfMain},
		},
		MaxConcurrent: 4, Latency: dur("10ms"), MaxRecords: 100,
	}
	var got Simulator
	if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	var bare Simulator
	if err := bare.UnmarshalCaddyfile(caddyfile.NewTestDispenser("twilio_simulator")); err != nil || !reflect.DeepEqual(bare, Simulator{}) {
		t.Errorf("bare directive: %+v, %v", bare, err)
	}
}

func TestSimulatorUnmarshalCaddyfileErrors(t *testing.T) {
	t.Parallel()
	const argErr = "wrong argument count"
	block := func(lines ...string) string {
		return "twilio_simulator {\n" + strings.Join(lines, "\n") + "\n}"
	}
	account := "account " + cfMain + " tok"
	tests := []struct {
		name, input, want string
	}{
		{"directive argument", "twilio_simulator extra", argErr},
		{"account without token", block("account " + cfMain), "account " + cfMain + " needs an auth_token"},
		{"account with an empty token", block("account " + cfMain + ` ""`), "account " + cfMain + " needs an auth_token"},
		{"account with three arguments", block("account " + cfMain + " tok " + cfSub), argErr},
		{"account twice", block(account, account), "account " + cfMain + " is declared twice"},
		{"api_key with one argument", block(account+" {", "api_key "+cfKey, "}"), argErr},
		{"api_key outside an account", block("api_key "+cfKey+" s", account), `unrecognized twilio_simulator subdirective "api_key"`},
		{"sender without number", block(account+" {", "sender", "}"), argErr},
		{"auth_token twice", block(account+" {", "auth_token other", "}"), "auth_token is set twice"},
		{"unknown account word", block(account+" {", "flows x", "}"), `unrecognized twilio_simulator account subdirective "flows"`},
		{"latency twice", block("latency 1ms", "latency 2ms"), "latency is set twice"},
		{"max_concurrent without value", block("max_concurrent"), argErr},
		{"max_concurrent not a number", block("max_concurrent lots"), "max_concurrent must be a non-negative integer"},
		{"max_records negative", block("max_records -1"), "max_records must be a non-negative integer"},
		{"latency without value", block("latency"), argErr},
		{"latency not a duration", block("latency slow"), "latency:"},
		{"unknown subdirective", block("fault 5xx"), `unrecognized twilio_simulator subdirective "fault"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s Simulator
			err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestProvisionErrors: a config that cannot work is refused at provisioning,
// with a message naming the setting at fault (matched case-insensitively).
func TestProvisionErrors(t *testing.T) {
	t.Parallel()
	creds := "account_sid " + cfMain + "\nauth_token " + cfToken
	block := func(lines ...string) string {
		return "twilio_sms {\n" + strings.Join(lines, "\n") + "\n}"
	}
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"missing credentials", block("from +15005550006"),
			[]string{"account_sid and auth_token (or api_key) are required", "{env.TWILIO_AUTH_TOKEN}", "never falls back to the simulator"}},
		{"missing auth_token names only it", block("account_sid " + cfMain), []string{`"mapping generic": auth_token (or api_key) is required: use {env.TWILIO_AUTH_TOKEN}, or`}},
		{"api_key credentials without account_sid", block("api_key " + cfKey + " key-secret-1"), []string{"account_sid is required: use {env.TWILIO_ACCOUNT_SID}, or"}},
		{"auth_token and api_key together", block(creds, "api_key "+cfKey+" key-secret-3"), []string{"auth_token and api_key are exclusive"}},
		{"errors name the route", block(creds, "name sms-prod", "channel fax"), []string{`twilio_sms route "sms-prod": channel must be sms or voice`}},
		{"bad account_sid", block("account_sid AC123", "auth_token "+cfToken), []string{"account_sid must look like AC followed by 32 hex digits"}},
		{"account_sid of another kind", block("account_sid "+cfKey, "auth_token "+cfToken), []string{"account_sid must look like AC"}},
		{"bad api_key_sid", block("account_sid "+cfMain, "api_key AC0123 key-secret-2"), []string{"api_key: the key SID must look like SK"}},
		{"bad messaging_service_sid", block(creds, "messaging_service_sid MG123"), []string{"messaging_service_sid must look like MG"}},
		{"bad studio_flow_sid", block(creds, "studio_flow_sid FW123"), []string{"studio_flow_sid must look like FW"}},
		{"passthrough with a stored token", block(creds, "credentials passthrough"), []string{"credentials passthrough", "remove auth_token"}},
		{"passthrough with subaccounts", block("credentials passthrough", "subaccount +91 {", "name india", "account_sid "+cfSub, "}"),
			[]string{"credentials passthrough", "subaccount and fallback need stored credentials"}},
		{"passthrough with basic caller_auth", block("credentials passthrough", "caller_auth basic idp idp-pass-1"),
			[]string{"caller_auth[0] basic: cannot be used with credentials passthrough"}},
		{"unknown channel", block(creds, "channel fax"), []string{`channel must be sms or voice, not "fax"`}},
		{"http api_url to a remote host", block(creds, "api_url http://api.twilio.com"), []string{"api_url", "plain http is only allowed to a loopback host"}},
		{"http studio_url to a private address", block(creds, "studio_url http://10.0.0.8:8081"), []string{"studio_url", "plain http is only allowed to a loopback host"}},
		{"api_url with user info", block(creds, "api_url https://user:pw@api.twilio.com"), []string{"api_url must not contain credentials"}},
		{"api_url with another scheme", block(creds, "api_url ftp://127.0.0.1"), []string{"api_url must be an https URL"}},
		{"api_url not absolute", block(creds, "api_url api.twilio.com"), []string{`api_url "api.twilio.com" is not an absolute URL`}},
		{"subaccount http api_url", block(creds, "subaccount +91 {", "name india", "account_sid "+cfSub, "api_url http://twilio.example.com", "}"),
			[]string{"subaccount +91", "api_url", "loopback"}},
		{"unknown built-in mapping", block(creds, "mapping nosuchproduct"), []string{"mapping", "nosuchproduct"}},
		{"missing mapping file", block(creds, "mapping ./testdata/none/missing.json"), []string{"mapping", "missing.json"}},
		{"bad default_region", block(creds, "default_region XX"), []string{`default_region "XX"`}},
		{"unknown edge", block(creds, "edge atlantis", "region ie1"), []string{"edge", "atlantis"}},
		{"region without edge", block(creds, "region ie1"), []string{"region", "ie1", "needs an edge"}},
		{"bad region", block(creds, "edge dublin", "region IRELAND"), []string{"region", "IRELAND"}},
		{"bad sender number", block(creds, "sender +1415"), []string{"sender[0]", "number"}},
		{"bad sender country", block(creds, "sender +14155550100 countries USA"), []string{"sender[0]", "country", "USA"}},
		{"from and sender together", block(creds, "from +15005550006", "sender +14155550100"), []string{"from and sender are exclusive"}},
		{"voice route with an SMS-only pool", block(creds, "channel voice", "sender 894546 short_code sms", "sender +14155550100 standard sms"),
			[]string{"sender", "voice"}},
		{"short code marked voice", block(creds, "sender 894546 short_code voice"), []string{"sender", "short code cannot place voice calls"}},
		{"voice subaccount with an SMS-only pool", block(creds, "channel voice", "subaccount +91 {", "name india", "account_sid "+cfSub, "sender 56789 short_code", "}"),
			[]string{"subaccount +91", "sender", "voice"}},
		{"studio through a subaccount without its own token", block(creds, "studio_flow_sid "+cfFlow, "subaccount +91 {", "name india", "account_sid "+cfSub, "}"),
			[]string{"subaccount +91", "Studio needs the subaccount's own auth_token"}},
		{"fallback to the main account", block(creds, "fallback again {", "account_sid "+cfMain, "auth_token "+cfToken, "}"),
			[]string{"fallback", "loop"}},
		{"fallback twice to the same account", block(creds, "fallback one {", "account_sid "+cfBack, "auth_token back-token-1", "}", "fallback two {", "account_sid "+cfBack, "auth_token back-token-1", "}"),
			[]string{"fallback", "already fallback[0]", "loop"}},
		{"fallback named main", block(creds, "fallback main {", "account_sid "+cfBack, "auth_token back-token-2", "}"), []string{"fallback", "main", "loop"}},
		{"caller_auth header without value", block(creds, `caller_auth header X-Api-Key ""`), []string{"caller_auth[0]", "caller_auth[0] header: needs a header name and a value"}},
		{"allow_countries with a non-region", block(creds, "allow_countries US Mars"), []string{"allow_countries", "Mars"}},
		{"deny_countries with a non-region", block(creds, "deny_countries ZZZ"), []string{"deny_countries", "ZZZ"}},
		{"dial_timeout equal to timeout", block(creds, "timeout 2s", "dial_timeout 2s"), []string{"dial_timeout must be shorter than timeout"}},
		{"dial_timeout above timeout", block(creds, "timeout 1s", "dial_timeout 1500ms"), []string{"dial_timeout must be shorter than timeout"}},

		// The messages below name Go fields or internal lists (countries[1],
		// AccountSID, Username) or no setting at all: see TestProvisionErrorsNameTheSetting.
		{"duplicate subaccount prefix (written two ways)", block(creds, "subaccount +91 {", "name india", "account_sid "+cfSub, "}", "subaccount 91 {", "name india2", "account_sid "+cfBack, "}"),
			[]string{"duplicate prefix"}},
		{"bad subaccount prefix", block(creds, "subaccount +0 {", "name zero", "account_sid "+cfSub, "}"), []string{"prefix"}},
		{"bad subaccount account_sid", block(creds, "subaccount +91 {", "name india", "account_sid AC42", "}"), []string{"+91", "AC followed by 32 hex digits"}},
		{"allow and deny overlap", block(creds, "allow_countries US GB", "deny_countries GB"), []string{"GB", "both allowed and denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := provisionBlock(t, tt.input)
			if err == nil {
				t.Fatalf("provisioned, want an error containing %q", tt.want)
			}
			msg := strings.ToLower(err.Error())
			for _, w := range tt.want {
				if !strings.Contains(msg, strings.ToLower(w)) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "twilio_sms route ") {
				t.Errorf("error %q does not start with the module name", err)
			}
		})
	}
}

// TestProvisionErrorsNameTheSetting holds the provisioning errors whose
// message does not name the Caddyfile/JSON setting at fault.
//
// BUG(provision-messages): these fail. The dispatch package's errors use its
// own names (countries[i] for the i-th subaccount, Go field names such as
// AccountSID and Username), and guards.go's overlap message names no
// setting. See the report for the fix.
func TestProvisionErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	creds := "account_sid " + cfMain + "\nauth_token " + cfToken
	block := func(lines ...string) string {
		return "twilio_sms {\n" + strings.Join(lines, "\n") + "\n}"
	}
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"duplicate subaccount prefix", block(creds, "subaccount +91 {", "name india", "account_sid "+cfSub, "}", "subaccount 91 {", "name india2", "account_sid "+cfBack, "}"),
			[]string{"subaccount 91", "duplicate"}},
		{"bad subaccount prefix", block(creds, "subaccount +0 {", "name zero", "account_sid "+cfSub, "}"), []string{"subaccount +0"}},
		{"bad subaccount account_sid", block(creds, "subaccount +91 {", "name india", "account_sid AC42", "}"), []string{"subaccount +91", "account_sid"}},
		{"bad fallback account_sid", block(creds, "fallback backup {", "account_sid AC42", "}"), []string{"fallback", "account_sid"}},
		{"bad subaccount api_key", block(creds, "subaccount +91 {", "name india", "account_sid "+cfSub, "api_key SK42 key-secret-3", "}"), []string{"subaccount +91", "api_key"}},
		{"allow and deny overlap", block(creds, "allow_countries US GB", "deny_countries GB"), []string{"allow_countries", "deny_countries", "GB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := provisionBlock(t, tt.input)
			if err == nil {
				t.Fatalf("provisioned, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("BUG(provision-messages): error %q does not name the setting (%q)", err, w)
				}
			}
		})
	}
}

// TestProvisionDefaults: what Provision fills in, and that a plain config is accepted.
func TestProvisionDefaults(t *testing.T) {
	t.Parallel()
	h := mustProvision(t, "twilio_sms {\naccount_sid "+cfMain+"\nauth_token "+cfToken+"\nfrom +15005550006\n}")
	want := map[string][2]any{
		"mapping":      {h.Mapping.Use, "generic"},
		"credentials":  {h.Credentials, ""},
		"channel":      {h.Channel, "sms"},
		"timeout":      {time.Duration(h.Resilience.Timeout), 5 * time.Second},
		"dial_timeout": {time.Duration(h.Resilience.DialTimeout), 2 * time.Second},
		"dedup":        {time.Duration(h.Dedup.Window), 2 * time.Minute},
		"time_limit":   {time.Duration(h.Guard.TimeLimit), 2 * time.Minute},
		"destination":  {h.gw.DestinationLimit != nil, true},
		"name":         {h.Name, "generic"},
		"api base":     {h.router.Main.APIURL(), "https://api.twilio.com"},
		"studio base":  {h.router.Main.StudioURL(), "https://studio.twilio.com"},
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %v, want %v", k, v[0], v[1])
		}
	}
}

// TestProvisionShortTimeout: a timeout at or below the default dial_timeout
// (2s), with no dial_timeout set, should provision with a shorter dial_timeout.
//
// BUG(short-timeout): Provision fills in dial_timeout 2s and then refuses
// "dial_timeout must be shorter than timeout", a setting the user never wrote;
// even `timeout 2s` alone is refused. See the report for the fix.
func TestProvisionShortTimeout(t *testing.T) {
	t.Parallel()
	for _, timeout := range []string{"2s", "1500ms", "500ms"} {
		h, err := provisionBlock(t, "twilio_sms {\naccount_sid "+cfMain+"\nauth_token "+cfToken+"\ntimeout "+timeout+"\n}")
		if err != nil {
			t.Errorf("BUG(short-timeout): timeout %s alone is refused: %v", timeout, err)
			continue
		}
		if h.Resilience.DialTimeout >= h.Resilience.Timeout {
			t.Errorf("timeout %s: dial_timeout %v is not below it", timeout, time.Duration(h.Resilience.DialTimeout))
		}
	}
}

// TestLoadErrorThroughCaddy: Caddy refuses a config whose handler cannot
// provision, with the handler's message, and keeps running.
func TestLoadErrorThroughCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy")
	}
	caddytest.AssertLoadError(t, withTestGlobals(`
http://localhost:9080 {
	twilio_sms generic {
		from +15005550006
	}
}`), "caddyfile", "account_sid and auth_token (or api_key) are required")

	caddytest.AssertLoadError(t, withTestGlobals(`
http://localhost:9080 {
	twilio_sms generic {
		account_sid `+cfMain+`
		auth_token  {env.CADDYMODULE_TEST_UNSET_TOKEN}
	}
}`), "caddyfile", `auth_token (or api_key) is required: use {env.TWILIO_AUTH_TOKEN}, or`)

	caddytest.AssertLoadError(t, withTestGlobals(`
http://localhost:9080 {
	twilio_sms generic {
		timeout 2s
		timeout 3s
	}
}`), "caddyfile", "timeout is set twice")
}

// goldenSeparator splits a .caddyfiletest file, as in Caddy's own tests.
const goldenSeparator = "----------"

// TestCaddyfileAdapt adapts every testdata/adapt/*.caddyfiletest and compares
// the JSON with the part after the separator (or, when that part is not JSON,
// expects an adapt error containing it). With -update the JSON is rewritten.
func TestCaddyfileAdapt(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "adapt", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in testdata/adapt: %v", err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, expected, ok := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n"+goldenSeparator+"\n")
			if !ok {
				t.Fatalf("no %q line", goldenSeparator)
			}
			input = strings.TrimSpace(input) + "\n"
			expected = strings.TrimSpace(expected)

			out, warnings, err := adapter.Adapt([]byte(input), nil)
			for _, w := range warnings {
				t.Logf("warning: %s:%d: %s: %s", file, w.Line, w.Directive, w.Message)
			}
			if expected != "" && expected[0] != '{' {
				if err == nil || !strings.Contains(err.Error(), expected) {
					t.Errorf("adapt error %v, want one containing %q", err, expected)
				}
				return
			}
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			got := pretty.String()
			if got == expected {
				return
			}
			if updateGoldens() {
				if err := os.WriteFile(file, []byte(input+goldenSeparator+"\n"+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("updated %s", file)
				return
			}
			t.Errorf("%s: adapted JSON differs from the golden file (run go test -run TestCaddyfileAdapt -update to rewrite it):\n%s",
				file, lineDiff(expected, got))
		})
	}
}

// lineDiff shows the first differing lines of want and got with some context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	from := max(0, i-3)
	for j := from; j < i; j++ {
		fmt.Fprintf(&b, "  %4d   %s\n", j+1, w[j])
	}
	for j := i; j < min(len(w), i+6); j++ {
		fmt.Fprintf(&b, "  %4d - %s\n", j+1, w[j])
	}
	for j := i; j < min(len(g), i+6); j++ {
		fmt.Fprintf(&b, "  %4d + %s\n", j+1, g[j])
	}
	return b.String()
}

// TestProvisionStudioFallbackToken: a Studio route's fallback account needs
// its own credentials, as a subaccount does: Studio runs a flow as the
// credentials' own account, so a fallback borrowing the main account's token
// would run the main account's flow again.
//
// BUG(studio-fallback-token): buildRouter checks only the subaccounts; this
// config provisions.
func TestProvisionStudioFallbackToken(t *testing.T) {
	t.Parallel()
	_, err := provisionBlock(t, "twilio_sms {\naccount_sid "+cfMain+"\nauth_token "+cfToken+"\nfrom +15005550006\nstudio_flow_sid "+cfFlow+
		"\nfallback backup {\naccount_sid "+cfBack+"\nfrom +15005550006\n}\n}")
	if err == nil || !strings.Contains(err.Error(), "fallback") || !strings.Contains(err.Error(), "auth_token") {
		t.Errorf("BUG(studio-fallback-token): got %v, want an error naming the fallback and its auth_token", err)
	}
}

// TestProvisionSecretPlaceholders: {env.*} and {file.*} are resolved in every
// setting documented to take them, and the token reaches Twilio.
//
// BUG(caller-auth-env-user): CallerCredential documents "Username and
// Password (type basic); {env.*} allowed", but resolveSecrets resolves only
// Value and Password, so a basic caller_auth whose user name is a placeholder
// never matches.
func TestProvisionSecretPlaceholders(t *testing.T) {
	main := acct()
	sim := newTestSim(t, main)
	file := filepath.Join(t.TempDir(), "twilio_token")
	if err := os.WriteFile(file, []byte(main.AuthToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	user, password := "idp-"+newCode(), newToken()
	t.Setenv("CADDYMODULE_TEST_SID", main.SID)
	t.Setenv("CADDYMODULE_TEST_CALLER_USER", user)
	t.Setenv("CADDYMODULE_TEST_CALLER_PASSWORD", password)
	hd := mustProvision(t, routeBlock(t, "account_sid {env.CADDYMODULE_TEST_SID}", "auth_token {file."+file+"}",
		"from +15005550006", "api_url "+sim.URL,
		"caller_auth basic {env.CADDYMODULE_TEST_CALLER_USER} {env.CADDYMODULE_TEST_CALLER_PASSWORD}"))
	if hd.Account.AccountSID != main.SID || hd.Account.AuthToken != main.AuthToken {
		t.Fatal("account_sid or auth_token placeholder not resolved (or the file's newline kept)")
	}
	r := formRequest(sms(newNumber(t, "US"), newMessage()))
	r.SetBasicAuth(user, password)
	noteSecret(basicAuth(user, password), strings.TrimPrefix(basicAuth(user, password), "Basic "))
	if a := serveRequest(t, hd, r); a.Status != 200 {
		t.Errorf("BUG(caller-auth-env-user): caller with the resolved credentials got %v, want 200", a)
	}
}

// TestSimulatorProvision: the simulator module resolves {env.*} in the
// secrets it is given and answers like Twilio.
//
// BUG(sim-key-env): Simulator.Provision resolves placeholders in auth_token but
// not in api_key secrets.
func TestSimulatorProvision(t *testing.T) {
	token, secret := newToken(), newToken()
	t.Setenv("CADDYMODULE_TEST_SIM_TOKEN", token)
	t.Setenv("CADDYMODULE_TEST_SIM_KEY", secret)
	var s Simulator
	err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser("twilio_simulator {\naccount " + cfMain + " {env.CADDYMODULE_TEST_SIM_TOKEN} {\napi_key " +
		cfKey + " {env.CADDYMODULE_TEST_SIM_KEY}\n}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, user, password string }{
		{"auth token", cfMain, token},
		{"api key", cfKey, secret},
	} {
		form := sms("+15005550006", newMessage())
		form.Set("From", "+15005550006")
		form.Set("To", form.Get("to"))
		form.Set("Body", form.Get("message"))
		r := httptest.NewRequest(http.MethodPost, "/2010-04-01/Accounts/"+cfMain+"/Messages.json", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(tt.user, tt.password)
		w := httptest.NewRecorder()
		if err := s.ServeHTTP(w, r, nil); err != nil {
			t.Fatal(err)
		}
		if w.Code != http.StatusCreated {
			t.Errorf("BUG(sim-key-env): %s from the environment: HTTP %d, want 201", tt.name, w.Code)
		}
	}

	for _, bad := range []string{"account AC1 tok"} {
		var s Simulator
		if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser("twilio_simulator {\n" + bad + "\n}")); err != nil {
			t.Fatal(err)
		}
		if err := s.Provision(caddy.Context{}); err == nil || !strings.Contains(err.Error(), "account[0]") {
			t.Errorf("%s: provisioning error %v, want one naming account[0]", bad, err)
		}
	}
}

// TestProvisionQueueSettings: max_concurrent and max_queue reach the
// per-account limiters; `max_queue 0`, which the parser accepts, means no
// queue (shed at once when max_concurrent requests are in flight).
//
// BUG(max-queue-zero): 0 is the JSON zero value, so Provision passes it on and
// dispatch.NewState turns it into the default queue of 256; negative values,
// which StateConfig takes as "none", are refused by the parser. There is no
// way to turn the queue off.
func TestProvisionQueueSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lines     string
		wantConc  int
		wantQueue int
	}{
		{"", 32, 256},
		{"max_concurrent 4\nmax_queue 16", 4, 16},
		{"max_concurrent 1\nmax_queue 0", 1, 0},
	} {
		hd := mustProvision(t, "twilio_sms {\naccount_sid "+cfMain+"\nauth_token "+cfToken+"\n"+tt.lines+"\n}")
		cfg := hd.gw.Dispatcher.State.Config()
		if cfg.MaxConcurrent != tt.wantConc || cfg.MaxQueue != tt.wantQueue {
			t.Errorf("BUG(max-queue-zero): %q: max_concurrent %d, max_queue %d; want %d and %d",
				tt.lines, cfg.MaxConcurrent, cfg.MaxQueue, tt.wantConc, tt.wantQueue)
		}
	}
}
