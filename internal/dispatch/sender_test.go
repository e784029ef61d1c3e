package dispatch

import (
	"errors"
	"testing"
)

func TestSelectSender(t *testing.T) {
	mixed := []Sender{
		{Number: "+14155550100", Type: Standard, SMS: true, Voice: true},                                   // 0
		{Number: "+18005550100", Type: TollFree, SMS: true, Voice: true, Countries: []string{"US"}},        // 1
		{Number: "894546", Type: ShortCode, SMS: true, Countries: []string{"US"}},                          // 2
		{Number: "+919812345678", Type: Standard, SMS: true, Voice: true, Countries: []string{"IN"}},       // 3
		{Number: "+447700900123", Type: Standard, SMS: true, Countries: []string{"GB"}},                    // 4
		{Number: "+14155550199", Type: Standard, Voice: true},                                              // 5
		{Number: "+18885550100", Type: TollFree, SMS: true},                                                // 6
		{Number: "+447700900999", Type: Standard, SMS: true, Voice: true, Countries: []string{"GB", "IE"}}, // 7
	}
	tests := []struct {
		name      string
		acct      Account
		channel   Channel
		region    string
		caller    string
		wantFrom  string
		wantMG    string
		wantNoSnd bool
	}{
		{name: "messaging service wins for sms", acct: Account{MessagingServiceSID: sid("MG", 1), Senders: mixed},
			channel: SMS, region: "US", wantMG: sid("MG", 1)},
		{name: "messaging service never used for voice", acct: Account{MessagingServiceSID: sid("MG", 1), Senders: mixed},
			channel: Voice, region: "US", wantFrom: "+18005550100"},
		{name: "sms to US: country short code first", acct: Account{Senders: mixed}, channel: SMS, region: "US", wantFrom: "894546"},
		{name: "region is case-insensitive", acct: Account{Senders: mixed}, channel: SMS, region: "us", wantFrom: "894546"},
		{name: "sms to IN: the IN standard number beats unrestricted toll-free", acct: Account{Senders: mixed}, channel: SMS, region: "IN", wantFrom: "+919812345678"},
		{name: "sms to GB: first declared among equals", acct: Account{Senders: mixed}, channel: SMS, region: "GB", wantFrom: "+447700900123"},
		{name: "sms to FR: unrestricted toll-free beats standard", acct: Account{Senders: mixed}, channel: SMS, region: "FR", wantFrom: "+18885550100"},
		{name: "sms to unknown region: only unrestricted senders", acct: Account{Senders: mixed}, channel: SMS, region: "", wantFrom: "+18885550100"},
		{name: "voice to US: country toll-free beats unrestricted standard", acct: Account{Senders: mixed}, channel: Voice, region: "US", wantFrom: "+18005550100"},
		{name: "voice to IN", acct: Account{Senders: mixed}, channel: Voice, region: "IN", wantFrom: "+919812345678"},
		{name: "voice to GB skips the sms-only GB number", acct: Account{Senders: mixed}, channel: Voice, region: "GB", wantFrom: "+447700900999"},
		{name: "voice to FR: standard over toll-free", acct: Account{Senders: mixed}, channel: Voice, region: "FR", wantFrom: "+14155550100"},
		{name: "voice prefers standard over toll-free in a group", acct: Account{Senders: []Sender{
			{Number: "+18885550100", Type: TollFree, Voice: true}, {Number: "+14155550100", Type: Standard, Voice: true}}},
			channel: Voice, region: "US", wantFrom: "+14155550100"},
		{name: "short code marked voice is never used for voice", acct: Account{Senders: []Sender{
			{Number: "894546", Type: ShortCode, SMS: true, Voice: true}}}, channel: Voice, region: "US", wantNoSnd: true},
		{name: "restricted senders only, other region", acct: Account{Senders: []Sender{
			{Number: "+919812345678", Type: Standard, SMS: true, Countries: []string{"IN"}}}}, channel: SMS, region: "GB", caller: "+15005550006", wantNoSnd: true},
		{name: "no capable sender", acct: Account{Senders: []Sender{{Number: "894546", Type: ShortCode, SMS: true}}}, channel: Voice, region: "US", wantNoSnd: true},
		{name: "no senders: caller's from", acct: Account{}, channel: SMS, region: "US", caller: "+15005550006", wantFrom: "+15005550006"},
		{name: "no senders, no caller from", acct: Account{}, channel: Voice, region: "US", wantNoSnd: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, mg, err := SelectSender(&tt.acct, tt.channel, tt.region, tt.caller)
			if tt.wantNoSnd {
				if !errors.Is(err, ErrNoSender) {
					t.Fatalf("err = %v, want ErrNoSender", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if from != tt.wantFrom || mg != tt.wantMG {
				t.Fatalf("SelectSender = %q, %q; want %q, %q", from, mg, tt.wantFrom, tt.wantMG)
			}
		})
	}
}

func TestNoSenderErrorText(t *testing.T) {
	tests := []struct {
		name, region, want string
		channel            Channel
	}{
		{"known region", "IN", "no sender can send voice to IN", Voice},
		{"unknown region", "", "no sender can send sms to an unknown region", SMS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SelectSender(&Account{Senders: []Sender{{Number: "894546", Type: ShortCode, SMS: true, Countries: []string{"US"}}}}, tt.channel, tt.region, "")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, _, err := SelectSender(&Account{}, "fax", "US", "+1"); err == nil {
		t.Fatal("unknown channel accepted")
	}
}

func TestSelectSenderDoesNotAllocate(t *testing.T) {
	a := Account{Senders: []Sender{
		{Number: "+14155550100", Type: Standard, SMS: true},
		{Number: "+919812345678", Type: Standard, SMS: true, Countries: []string{"IN"}},
	}}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = SelectSender(&a, SMS, "IN", "") }); n != 0 {
		t.Fatalf("SelectSender allocates %v times", n)
	}
}

func TestValidatePool(t *testing.T) {
	tests := []struct {
		name     string
		acct     Account
		channels []Channel
		err      string
	}{
		{name: "sms pool", acct: Account{Name: "a", Senders: []Sender{{Number: "894546", Type: ShortCode, SMS: true}}}, channels: []Channel{SMS}},
		{name: "voice route without a voice sender", acct: Account{Name: "a", Senders: []Sender{
			{Number: "894546", Type: ShortCode, SMS: true}, {Number: "+14155550100", Type: Standard, SMS: true}}},
			channels: []Channel{SMS, Voice}, err: `account "a": field Senders: none of the 2 senders can be used for voice`},
		{name: "short code marked voice", acct: Account{Name: "a", Senders: []Sender{
			{Number: "+14155550100", Type: Standard, SMS: true, Voice: true}, {Number: "894546", Type: ShortCode, SMS: true, Voice: true}}},
			channels: []Channel{Voice}, err: "field Senders[1].Voice: a short code cannot place voice calls"},
		{name: "messaging service covers sms", acct: Account{Name: "a", MessagingServiceSID: sid("MG", 1), Senders: []Sender{
			{Number: "+14155550100", Type: Standard, Voice: true}}}, channels: []Channel{SMS, Voice}},
		{name: "messaging service does not cover voice", acct: Account{Name: "a", MessagingServiceSID: sid("MG", 1), Senders: []Sender{
			{Number: "+14155550100", Type: Standard, SMS: true}}}, channels: []Channel{Voice}, err: "can be used for voice"},
		{name: "no senders: the caller's from", acct: Account{Name: "a"}, channels: []Channel{SMS, Voice}},
		{name: "unknown channel", acct: Account{Name: "a"}, channels: []Channel{"fax"}, err: `unknown channel "fax"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, ValidatePool(&tt.acct, tt.channels...), tt.err)
		})
	}
}
