package dispatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

func TestAccountValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(a *Account)
		field  string // "" = valid
		reason string
	}{
		{name: "valid minimal", edit: func(*Account) {}},
		{name: "valid api key and senders", edit: func(a *Account) {
			a.Username = sid("SK", 9)
			a.APIBase, a.StudioBase = "https://api.dublin.ie1.twilio.com", "https://studio.dublin.ie1.twilio.com"
			a.MessagingServiceSID = sid("MG", 1)
			a.Senders = []Sender{
				{Number: "+14155550100", Type: Standard, SMS: true, Voice: true},
				{Number: "+18005550100", Type: TollFree, SMS: true, Countries: []string{"US", "CA"}},
				{Number: "894546", Type: ShortCode, SMS: true},
			}
		}},
		{name: "loopback http base", edit: func(a *Account) { a.APIBase = "http://127.0.0.1:8089" }},
		{name: "empty name", edit: func(a *Account) { a.Name = "" }, field: "Name"},
		{name: "name with space", edit: func(a *Account) { a.Name = "my account" }, field: "Name"},
		{name: "short sid", edit: func(a *Account) { a.AccountSID = "AC123" }, field: "AccountSID"},
		{name: "sid with wrong prefix", edit: func(a *Account) { a.AccountSID = sid("SK", 1) }, field: "AccountSID"},
		{name: "username not a sid", edit: func(a *Account) { a.Username = "admin" }, field: "Username"},
		{name: "empty password", edit: func(a *Account) { a.Password = "" }, field: "Password"},
		{name: "http to a remote host", edit: func(a *Account) { a.APIBase = "http://api.twilio.com" }, field: "APIBase", reason: "loopback"},
		{name: "credentials in base", edit: func(a *Account) { a.StudioBase = "https://u:p@studio.twilio.com" }, field: "StudioBase"},
		{name: "ftp base", edit: func(a *Account) { a.APIBase = "ftp://api.twilio.com" }, field: "APIBase"},
		{name: "bad messaging service", edit: func(a *Account) { a.MessagingServiceSID = "MG1" }, field: "MessagingServiceSID"},
		{name: "sender type unknown", edit: func(a *Account) {
			a.Senders = []Sender{{Number: "+14155550100", Type: "alpha", SMS: true}}
		}, field: "Senders[0].Type"},
		{name: "standard not e164", edit: func(a *Account) {
			a.Senders = []Sender{{Number: "4155550100", Type: Standard, SMS: true}}
		}, field: "Senders[0].Number"},
		{name: "short code too long", edit: func(a *Account) {
			a.Senders = []Sender{{Number: "+14155550100", Type: Standard, SMS: true}, {Number: "123456789", Type: ShortCode, SMS: true}}
		}, field: "Senders[1].Number"},
		{name: "no channel", edit: func(a *Account) {
			a.Senders = []Sender{{Number: "+14155550100", Type: Standard}}
		}, field: "Senders[0].SMS"},
		{name: "short code marked voice", edit: func(a *Account) {
			a.Senders = []Sender{{Number: "894546", Type: ShortCode, SMS: true, Voice: true}}
		}, field: "Senders[0].Voice", reason: "short code cannot place voice calls"},
		{name: "lowercase country", edit: func(a *Account) {
			a.Senders = []Sender{{Number: "+14155550100", Type: Standard, SMS: true, Countries: []string{"US", "in"}}}
		}, field: "Senders[0].Countries[1]"},
		{name: "duplicate number", edit: func(a *Account) {
			a.Senders = []Sender{{Number: "+14155550100", Type: Standard, SMS: true}, {Number: "+14155550100", Type: Standard, Voice: true}}
		}, field: "Senders[1].Number", reason: "Senders[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := acct("main", 1)
			tt.edit(&a)
			err := a.Validate()
			if tt.field == "" {
				wantErr(t, err, "")
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if tt.reason != "" && !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %q does not contain %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), a.Password) && a.Password != "" {
				t.Fatalf("error %q leaks the password", err)
			}
		})
	}
}

func TestAccountNeverPrintsPassword(t *testing.T) {
	a := acct("main", 1)
	a.Password = "s3cr3t-token-value"
	forms := map[string]string{
		"%v": fmt.Sprintf("%v", &a), "%+v": fmt.Sprintf("%+v", &a), "%#v": fmt.Sprintf("%#v", &a), "%s": fmt.Sprintf("%s", &a),
	}
	b, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	forms["json"] = string(b)
	for name, s := range forms {
		if strings.Contains(s, a.Password) {
			t.Errorf("%s leaks the password: %s", name, s)
		}
	}
	if !strings.Contains(forms["json"], `"password":"REDACTED"`) {
		t.Errorf("json = %s, want a redacted password", forms["json"])
	}
}

func TestAccountNewRequest(t *testing.T) {
	a := acct("main", 1)
	a.StudioBase = "https://studio.dublin.ie1.twilio.com"
	tests := []struct {
		name string
		api  twilio.API
		base string
	}{
		{"messages use the default api host", twilio.Messages, DefaultAPIBase},
		{"calls use the default api host", twilio.Calls, DefaultAPIBase},
		{"studio uses the configured studio host", twilio.Studio, "https://studio.dublin.ie1.twilio.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.NewRequest(tt.api, url.Values{"To": {"+14155550100"}})
			if r.BaseURL != tt.base || r.AccountSID != a.AccountSID || r.Username != a.Username || r.Password != a.Password || r.API != tt.api {
				t.Fatalf("request = %+v", r)
			}
		})
	}
}

func TestRouterAccountsCarryTheirAuthorization(t *testing.T) {
	main, backup, india := acct("main", 1), acct("backup", 2), acct("india", 3)
	r, err := NewRouter(main, []CountryRule{{Prefix: "91", Account: india}}, []Account{backup})
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"+14155550100", "+919812345678"} {
		for _, a := range r.Plan(to) {
			req := a.NewRequest(twilio.Messages, url.Values{"To": {to}})
			if req.Auth == nil || !req.Auth.For(req.Username, req.Password) {
				t.Errorf("%s: request without the account's precomputed Authorization", a.Name)
			}
		}
	}
	// A copy of an account given a caller's credentials (passthrough) must
	// not send with the account's header.
	caller := r.Main
	caller.Username, caller.Password = sid("AC", 7), "caller-token"
	if req := caller.NewRequest(twilio.Messages, nil); req.Auth != nil {
		t.Error("a copy with other credentials kept the account's Authorization")
	}
	// An account not built by NewRouter computes it per request.
	if req := main.NewRequest(twilio.Messages, nil); req.Auth != nil {
		t.Error("an account outside a Router has a precomputed Authorization")
	}
	if s := fmt.Sprintf("%v %+v %#v", &r.Main, &r.Main, &r.Main); strings.Contains(s, main.Password) {
		t.Errorf("account prints its secret: %s", s)
	}
}
