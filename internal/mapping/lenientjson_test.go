package mapping

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRepairJSONObject(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "PingOne OTP with a leading zero", in: `{"OTP":012345}`, want: `{"OTP":"012345"}`},
		{name: "PingOne OTP without a leading zero", in: `{"OTP":123456}`, want: `{"OTP":"123456"}`},
		{name: "bare word", in: `{"OTP":${otp}, "username":jdoe}`, want: `{"OTP":"${otp}","username":"jdoe"}`},
		{name: "PingOne with username", in: `{"OTP":000111, "username":jane.doe@example.com}`, want: `{"OTP":"000111","username":"jane.doe@example.com"}`},
		{name: "bare key", in: `{OTP: 1}`, want: `{"OTP":"1"}`},
		{name: "valid JSON stays, integers become strings", in: `{"a":"x","b":true,"c":null,"d":-1.5,"e":[1,"2"],"f":{}}`, want: `{"a":"x","b":true,"c":null,"d":-1.5,"e":["1","2"],"f":{}}`},
		{name: "nested", in: `{"user":{"otp":0042,"name":"A \"B\""}}`, want: `{"user":{"otp":"0042","name":"A \"B\""}}`},
		{name: "white space", in: " \n{ \"OTP\" : 01 ,\t\"x\" : \"y\" }\n", want: `{"OTP":"01","x":"y"}`},
		{name: "trailing comma", in: `{"OTP":1,}`, want: `{"OTP":"1"}`},
		{name: "empty object", in: `{}`, want: `{}`},
		{name: "non-Latin and escapes", in: `{"m":"Привет\n<&>"}`, want: `{"m":"Привет\n\u003c\u0026\u003e"}`},
		{name: "bare word with a space", in: `{"name":Jane Doe}`, want: `{"name":"Jane Doe"}`},
		{name: "float with leading zero stays text", in: `{"n":01.5}`, want: `{"n":"01.5"}`},
		{name: "exponent stays a number", in: `{"n":1e5}`, want: `{"n":1e5}`},
		// A form feed is not JSON white space: what follows it is a bare
		// word, escaped like any string, not copied as it is.
		{name: "quoted text after a form feed", in: "{0:\f\"&00000\"}", want: `{"0":"\"\u002600000\""}`},
		{name: "object after a form feed", in: "{\"a\":\f\"<b>\"}", want: `{"a":"\"\u003cb\u003e\""}`},
		{name: "not an object", in: `123456`, wantErr: "is not a JSON object"},
		{name: "array", in: `[1]`, wantErr: "is not a JSON object"},
		{name: "empty", in: ``, wantErr: "is not a JSON object"},
		{name: "unterminated string", in: `{"OTP":"1}`, wantErr: "unterminated string"},
		{name: "unterminated object", in: `{"OTP":1`, wantErr: ""},
		{name: "missing colon", in: `{"OTP" 1}`, wantErr: "missing a colon"},
		{name: "missing comma", in: `{"a":"1" "b":"2"}`, wantErr: "missing a comma"},
		{name: "empty value", in: `{"a":}`, wantErr: "empty value"},
		{name: "member without a name", in: `{:1}`, wantErr: "without a name"},
		{name: "text after", in: `{"a":1} x`, wantErr: "text after"},
		{name: "invalid escape", in: `{"a":"\x"}`, wantErr: "invalid string"},
		{name: "too deep", in: strings.Repeat(`{"a":`, 20) + "1" + strings.Repeat("}", 20), wantErr: "nested too deeply"},
		{name: "unclosed array", in: `{"a":[1,2`, wantErr: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RepairJSONObject(tt.in)
			if tt.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got %s, want %s", got, tt.want)
				}
				if !json.Valid([]byte(got)) {
					t.Error("not valid JSON")
				}
				if again, err := RepairJSONObject(got); err != nil || again != got {
					t.Errorf("not a fixed point: %s, %v", again, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error: %s", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want %q", err, tt.wantErr)
			}
		})
	}
}
