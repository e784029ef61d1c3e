package mapping

import (
	"bytes"
	"strings"
	"testing"
)

// TestResultFieldsWithoutTheVM checks that a reply value that is just
// result.<name> is written as the expression engine would write it, for
// every field a reply can read, and that each such value takes the direct
// path.
func TestResultFieldsWithoutTheVM(t *testing.T) {
	var keys []string
	for name := range resultFields {
		keys = append(keys, `"`+name+`": "result.`+name+`"`)
	}
	src := `{"name": "t", "fields": [{"name": "to", "from": ["any:to"]}],
		"twilio": {"messages": {"To": "to"}},
		"reply": {"success": {"format": "json", "body": {` + strings.Join(keys, ",") + `, "other": "result['sid']", "opt": "result?.sid"}}, "failure": {"format": "json", "body": {}}}}`
	m := mustCompile(t, src, Config{})
	direct := 0
	for _, ch := range m.success[0].body.children {
		if ch.prog.resultField != 0 {
			direct++
		}
	}
	if direct != len(resultFields)+1 { // result['sid'] is the same expression; result?.sid is not
		t.Errorf("%d values read directly, want %d", direct, len(resultFields)+1)
	}
	results := []*Result{
		{},
		{OK: true, Outcome: OutcomeAccepted, Sid: "SM1", Status: "queued", HTTPStatus: 201, Account: "main", AccountSID: "AC1", API: "messages", Duplicate: true},
		{Outcome: OutcomeRejected, ErrorCode: 21211, ErrorMessage: "bad \"To\" <number>\n\u2028", MoreInfo: "https://x/?a=1&b=2", HTTPStatus: 400, Field: "to", Reason: "é", RetryAfter: 120, SuggestedStatus: 400, TwilioCode: -1},
	}
	for _, res := range results {
		v := m.NewValues(Route{}, Request{})
		got, err := m.Reply(v, res)
		if err != nil {
			t.Fatal(err)
		}
		vm := mustCompile(t, src, Config{})
		for _, ch := range vm.success[0].body.children {
			ch.prog.resultField = 0
		}
		want, err := vm.Reply(vm.NewValues(Route{}, Request{}), res)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body, want.Body) {
			t.Errorf("direct %s\nVM     %s", got.Body, want.Body)
		}
	}
}

func TestReplyBuffersAreTheAnswers(t *testing.T) {
	// Two answers of one case share nothing: the body and the header
	// values of one are not changed by rendering the next.
	m := mustCompile(t, `{"name": "t", "fields": [{"name": "to", "from": ["any:to"]}],
		"twilio": {"messages": {"To": "to"}},
		"reply": {"success": {"format": "json", "body": {"sid": "result.sid"}}, "failure": {"format": "json", "body": {}}}}`, Config{})
	a, err := m.Reply(m.NewValues(Route{}, Request{}), &Result{OK: true, Sid: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
	if err != nil {
		t.Fatal(err)
	}
	a.Header["Content-Type"] = append(a.Header["Content-Type"], "x")
	b, err := m.Reply(m.NewValues(Route{}, Request{}), &Result{OK: true, Sid: "SMb"})
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Body) != `{"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}` || string(b.Body) != `{"sid":"SMb"}` {
		t.Errorf("bodies %s and %s", a.Body, b.Body)
	}
	if got := b.Header.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
		t.Errorf("second answer's Content-Type %q", got)
	}
}
