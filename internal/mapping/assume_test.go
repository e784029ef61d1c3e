package mapping

import (
	"strings"
	"testing"
)

// taggedPhone is a PhoneNormalizer that marks what it read with its tag, so a
// test sees which normalizer a field used.
type taggedPhone string

func (p taggedPhone) Normalize(raw string) (string, error) { return string(p) + ":" + raw, nil }
func (p taggedPhone) NormalizeSender(raw string) (string, error) {
	return string(p) + "-sender:" + raw, nil
}

// phoneFor returns a PhoneFor that tags numbers with the assumption and
// records the calls.
func phoneFor(calls *[]string) func(string) PhoneNormalizer {
	return func(assume string) PhoneNormalizer {
		*calls = append(*calls, assume)
		return taggedPhone(assume)
	}
}

func assumeSrc(toAssume string) string {
	assume := ""
	if toAssume != "" {
		assume = `, "assume": "` + toAssume + `"`
	}
	return `{
  "fields": [
    {"name": "to", "from": ["any:to"], "required": true, "type": "phone"` + assume + `},
    {"name": "alt", "from": ["any:alt"], "type": "phone"},
    {"name": "from", "from": ["any:from"], "type": "sender"},
    {"name": "message", "from": ["any:message"], "required": true}
  ],
  "twilio": {"messages": {"To": "to", "Body": "message"}},
  "reply": {"success": {"body": {"ok": true}}, "failure": {"body": {"ok": false}}}
}`
}

// TestPhoneAssume: a phone field's assume setting, or the route's Assume,
// chooses the normalizer through Config.PhoneFor; without either, or without
// PhoneFor, Config.Phone reads the number. Sender fields always use Phone.
func TestPhoneAssume(t *testing.T) {
	tests := []struct {
		name                string
		field               string // the "to" field's assume
		cfg                 Config // Phone is "phone" unless noPhone
		noPhone, noPhoneFor bool
		wantTo, wantAlt     string
		wantAssume          string // FieldAssume("to")
		wantCalls           string
	}{
		{name: "auto", wantTo: "phone:1", wantAlt: "phone:2"},
		{name: "field international", field: AssumeInternational, wantTo: "international:1", wantAlt: "phone:2",
			wantAssume: AssumeInternational, wantCalls: "international"},
		{name: "field national", field: AssumeNational, wantTo: "national:1", wantAlt: "phone:2",
			wantAssume: AssumeNational, wantCalls: "national"},
		{name: "route wins over the field", field: AssumeInternational, cfg: Config{Assume: AssumeNational},
			wantTo: "national:1", wantAlt: "national:2", wantAssume: AssumeNational, wantCalls: "national national"},
		{name: "route value in any case", cfg: Config{Assume: "National"},
			wantTo: "national:1", wantAlt: "national:2", wantAssume: AssumeNational, wantCalls: "national national"},
		{name: "route applies to fields without one", cfg: Config{Assume: AssumeInternational},
			wantTo: "international:1", wantAlt: "international:2", wantAssume: AssumeInternational, wantCalls: "international international"},
		{name: "no PhoneFor: Phone reads it", field: AssumeInternational, noPhoneFor: true,
			wantTo: "phone:1", wantAlt: "phone:2", wantAssume: AssumeInternational},
		{name: "PhoneFor without Phone", cfg: Config{Assume: AssumeInternational}, noPhone: true,
			wantTo: "international:1", wantAlt: "international:2", wantAssume: AssumeInternational, wantCalls: "international international"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			cfg := tt.cfg
			cfg.Phone = taggedPhone("phone")
			if !tt.noPhoneFor {
				cfg.PhoneFor = phoneFor(&calls)
			}
			src := assumeSrc(tt.field)
			if tt.noPhone {
				// Phone is needed by the sender field only: drop it.
				src = strings.Replace(src, `{"name": "from", "from": ["any:from"], "type": "sender"},`, "", 1)
				cfg.Phone = nil
			}
			spec, err := Parse("t.json", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Compile(spec, "t.json", cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(calls, " "); got != tt.wantCalls {
				t.Errorf("PhoneFor calls %q, want %q", got, tt.wantCalls)
			}
			if got := m.FieldAssume("to"); got != tt.wantAssume {
				t.Errorf("FieldAssume(to) = %q, want %q", got, tt.wantAssume)
			}
			if got := m.FieldAssume("from") + m.FieldAssume("message") + m.FieldAssume("nope"); got != "" {
				t.Errorf("FieldAssume of other fields = %q", got)
			}
			v, err := run(m, form("to=1&alt=2&from=3&message=hi"), Route{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Field("to") != tt.wantTo || v.Field("alt") != tt.wantAlt {
				t.Errorf("to, alt = %q, %q; want %q, %q", v.Field("to"), v.Field("alt"), tt.wantTo, tt.wantAlt)
			}
			if !tt.noPhone && v.Field("from") != "phone-sender:3" {
				t.Errorf("from = %q: sender fields must use Phone", v.Field("from"))
			}
		})
	}

	// A PhoneFor that has nothing for an assumption leaves the field to Phone.
	spec, err := Parse("t.json", []byte(assumeSrc(AssumeNational)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(spec, "t.json", Config{Phone: taggedPhone("phone"), PhoneFor: func(string) PhoneNormalizer { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := run(m, form("to=1&message=hi"), Route{}); err != nil || v.Field("to") != "phone:1" {
		t.Errorf("PhoneFor returning nil: to = %q, %v; want Phone's reading", v.Field("to"), err)
	}
}

func TestPhoneAssumeErrors(t *testing.T) {
	tests := []struct {
		name, src string
		cfg       Config
		want      string // the whole message
	}{
		{name: "unknown value", src: assumeSrc("intl"),
			want: `t.json:3:85: fields[0].assume: value must be one of 'international', 'national'`},
		{name: "upper case", src: assumeSrc("International"),
			want: `t.json:3:85: fields[0].assume: value must be one of 'international', 'national'`},
		{name: "on a text field", src: strings.Replace(assumeSrc(""), `"required": true}`, `"required": true, "assume": "national"}`, 1),
			want: `t.json:6:69: fields[3].assume: only a field of type "phone" takes assume`},
		{name: "on a sender field", src: strings.Replace(assumeSrc(""), `"type": "sender"}`, `"type": "sender", "assume": "international"}`, 1),
			want: `t.json:5:63: fields[2].assume: only a field of type "phone" takes assume`},
		{name: "route value", src: assumeSrc(""), cfg: Config{Assume: "e164"},
			want: `t.json: the route's assume "e164" is not "international" or "national"`},
		{name: "PhoneFor does not replace Phone for fields without an assumption", src: assumeSrc(AssumeInternational),
			cfg: Config{PhoneFor: phoneFor(new([]string))}, want: `t.json:4:50: fields[1].type: has type phone but no phone normalizer is configured`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Phone == nil && cfg.PhoneFor == nil {
				cfg.Phone = testPhone
			}
			spec, err := Parse("t.json", []byte(tt.src))
			if err == nil {
				_, err = Compile(spec, "t.json", cfg)
			}
			if err == nil {
				t.Fatal("Parse and Compile succeeded")
			}
			configErr(t, err)
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}
