package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Matrix settings: every route answers within matrixTimeout; a caller's
// answer may arrive matrixSlack later (process scheduling on a busy 2-core
// machine, the client's own work under -race).
const (
	matrixTimeout = 1500 * time.Millisecond
	matrixSlack   = 400 * time.Millisecond
	matrixN       = 20 // caller requests per row
	matrixWorkers = 10 // of which this many at a time
)

// want is one acceptable caller answer.
type want struct {
	status  int
	outcome string
	code    int // 0: no code
}

func (w want) String() string {
	s := fmt.Sprintf("%d %s", w.status, w.outcome)
	if w.code != 0 {
		s += fmt.Sprintf(" %d", w.code)
	}
	return s
}

var (
	okAnswer      = want{200, "accepted", 0}
	unknownAnswer = want{504, "unknown", 0}
)

// faultCase is one row of the matrix: a fault of the main account and what
// callers must get without and with a fallback account.
type faultCase struct {
	name    string
	mode    string   // simulator fault on the main account ("" none)
	args    []string // more fault fields (count, delay, code, status)
	refused bool     // the main account's api_url is a closed loopback port
	breaker bool     // keep the default breaker (5 failures, 30s) instead of 1000/1s

	answers []want // without fallback: the acceptable answers
	// sent: simulator-accepted messages per caller request without fallback
	// (0 or 1); with fallback it is 1 except where the answer says otherwise.
	sent int
	// fbAnswers and fallback: with a fallback account.
	fbAnswers []want
	// fallback is how many requests the fallback account must take: "all",
	// "none", "some" (at least one; the others must have answers that
	// prove nothing was sent), or "breaker" (at least one, and only requests
	// that never reached the main account: its breaker was open).
	fallback string
}

var faultCases = []faultCase{
	{name: "201 (no fault)", answers: []want{okAnswer}, sent: 1, fbAnswers: []want{okAnswer}, fallback: "none"},
	{name: "refused (closed port)", refused: true,
		answers: []want{{502, "unreachable", 0}}, sent: 0, fbAnswers: []want{okAnswer}, fallback: "all"},
	{name: "slow 3s > timeout 1.5s", mode: "slow", args: []string{"delay", "3s"},
		answers: []want{unknownAnswer}, sent: 1, fbAnswers: []want{unknownAnswer}, fallback: "none"},
	// 500/20500 may come after Twilio created the message: unknown, never
	// retried and never sent again through the fallback (fallback_on_5xx
	// is off by default).
	{name: "500", mode: "5xx",
		answers: []want{unknownAnswer}, sent: 0, fbAnswers: []want{unknownAnswer}, fallback: "none"},
	{name: "503", mode: "503",
		answers: []want{{502, "rejected", 20503}}, sent: 0, fbAnswers: []want{okAnswer}, fallback: "all"},
	{name: "429 once (recovers)", mode: "429", args: []string{"count", "1"},
		answers: []want{okAnswer}, sent: 1, fbAnswers: []want{okAnswer}, fallback: "none"},
	{name: "429 twice (recovers)", mode: "429", args: []string{"count", "2"},
		answers: []want{okAnswer}, sent: 1, fbAnswers: []want{okAnswer}, fallback: "none"},
	// Ten callers at once against an account that always answers 429: the
	// limiter shrinks the account to one request in flight (AIMD) and holds
	// the slot across retries, so with a short budget some callers spend it
	// queued for the main account and never reach the fallback. They get a
	// definite "nothing sent" answer instead.
	{name: "429 always (exhausted)", mode: "429",
		answers: []want{{502, "rejected", 20429}, {502, "unreachable", 0}}, sent: 0,
		fbAnswers: []want{okAnswer, {502, "rejected", 20429}, {502, "unreachable", 0}}, fallback: "some"},
	{name: "reset mid-response", mode: "reset",
		answers: []want{okAnswer}, sent: 1, fbAnswers: []want{okAnswer}, fallback: "none"},
	{name: "malformed JSON 201", mode: "malformed_json",
		answers: []want{okAnswer}, sent: 1, fbAnswers: []want{okAnswer}, fallback: "none"},
	{name: "malformed XML 201", mode: "malformed_xml",
		answers: []want{okAnswer}, sent: 1, fbAnswers: []want{okAnswer}, fallback: "none"},
	{name: "401 wrong credentials", mode: "auth",
		answers: []want{{502, "rejected", 20003}}, sent: 0, fbAnswers: []want{okAnswer}, fallback: "all"},
	{name: "400 21611 (in fallback_codes)", mode: "code", args: []string{"code", "21611", "status", "400"},
		answers: []want{{400, "rejected", 21611}}, sent: 0, fbAnswers: []want{okAnswer}, fallback: "all"},
	{name: "400 21211 (not in fallback_codes)", mode: "code", args: []string{"code", "21211", "status", "400"},
		answers: []want{{400, "rejected", 21211}}, sent: 0, fbAnswers: []want{{400, "rejected", 21211}}, fallback: "none"},
	// The first callers meet the 500 (unknown, no fallback); once five have
	// opened the breaker the others are not sent through the main account at
	// all, so they may go to the fallback.
	{name: "500 with the default breaker", mode: "5xx", breaker: true,
		answers: []want{unknownAnswer, {503, "unavailable", 20503}}, sent: 0,
		fbAnswers: []want{unknownAnswer, okAnswer}, fallback: "breaker"},
}

// matrixRow is one line of the printed matrix.
type matrixRow struct {
	mode, fallback, answers, sids, accepted, requests, taken, slowest string
}

// TestFaultMatrix drives matrixN caller requests through the generic mapping
// for every fault of the simulator (and a refused connection), first on a
// route with one account, then on a route with a fallback account, and checks
// per caller request: a definite answer within the route's timeout plus
// matrixSlack, at most one message accepted by the simulator (exactly one for
// an accepted answer, none when the answer proves nothing was sent), and a
// fallback only where nothing can have been sent.
func TestFaultMatrix(t *testing.T) {
	caddyBin(t)
	// Every route has accounts of its own: the adapter keeps one limiter and
	// breaker per account SID across routes, so rows must not share them.
	type acct struct{ main, backup simAccount }
	accts := make([][2]acct, len(faultCases))
	var all []simAccount
	for i := range faultCases {
		for k := range 2 {
			accts[i][k] = acct{newSimAccount(t), newSimAccount(t)}
			all = append(all, accts[i][k].main, accts[i][k].backup)
		}
	}
	s := startSim(t, simOptions{maxRecords: 20000}, all...)
	closed := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))

	var routes []route
	for i, fc := range faultCases {
		for k, fb := range []bool{false, true} {
			ac := accts[i][k]
			lines := []string{
				fmt.Sprintf("name matrix-%d-%t", i, fb),
				"account_sid " + ac.main.sid,
				"auth_token " + ac.main.token,
				"from +15005550006",
				"timeout " + matrixTimeout.String(),
				"dial_timeout 250ms",
				"fallback_codes 21611",
			}
			if fc.refused {
				lines = append(lines, "api_url "+closed)
			} else {
				lines = append(lines, "api_url "+s.url())
			}
			if !fc.breaker {
				lines = append(lines, "breaker 1000 1s")
			}
			if fb {
				lines = append(lines, "fallback backup {",
					"\taccount_sid "+ac.backup.sid,
					"\tauth_token "+ac.backup.token,
					"\tfrom +15005550006",
					"\tapi_url "+s.url(),
					"}")
			}
			routes = append(routes, route{path: matrixPath(i, fb), lines: lines})
		}
	}
	ad := startAdapter(t, "", routes...)
	client := callerClient(t, matrixWorkers, 10*time.Second)

	var table []matrixRow
	for i, fc := range faultCases {
		for k, fb := range []bool{false, true} {
			ac := accts[i][k]
			name := fc.name
			if fb {
				name += " with fallback"
			}
			t.Run(name, func(t *testing.T) {
				row := runFaultRow(t, s, ad, client, fc, ac.main, ac.backup, matrixPath(i, fb), fb)
				table = append(table, row)
			})
		}
	}
	out := renderMatrix(table)
	t.Logf("fault matrix (N=%d per row, %d at a time, route timeout %s):\n%s", matrixN, matrixWorkers, matrixTimeout, out)
	if dir := os.Getenv("E2E_REPORT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "fault-matrix.md"), []byte(out), 0o644)
	}
}

func matrixPath(i int, fb bool) string {
	if fb {
		return fmt.Sprintf("/f/%d", i)
	}
	return fmt.Sprintf("/m/%d", i)
}

// sent is what the simulator did with one caller request.
type sent struct {
	mainRequests, backupRequests int
	mainAccepted, backupAccepted int
	// mainMaybe counts main-account answers that do not prove nothing was
	// created: a 5xx other than 503.
	mainMaybe int
}

func runFaultRow(t *testing.T, s *sim, ad *adapter, client *http.Client, fc faultCase, main, backup simAccount, path string, fb bool) matrixRow {
	if fc.mode != "" {
		s.fault(t, main.sid, fc.mode, fc.args...)
	}
	t.Cleanup(func() { s.fault(t, main.sid, "none") })

	type call struct {
		msg string
		a   answer
	}
	calls := make([]call, matrixN)
	for j := range calls {
		calls[j].msg, _ = newMessage(t)
	}
	var wg sync.WaitGroup
	for w := range matrixWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < matrixN; j += matrixWorkers {
				calls[j].a = post(client, ad.base()+path, smsForm(newPhone(t), calls[j].msg))
			}
		}()
	}
	wg.Wait()
	s.idle(t)
	mine := map[string]bool{}
	for _, c := range calls {
		mine[c.msg] = true
	}
	bySMS := map[string]*sent{}
	for _, r := range s.records(t) {
		body := r.Form.Get("Body")
		if !mine[body] {
			continue // another row's
		}
		x := bySMS[body]
		if x == nil {
			x = &sent{}
			bySMS[body] = x
		}
		switch r.AccountSID {
		case main.sid:
			x.mainRequests++
			if r.Accepted {
				x.mainAccepted++
			}
			if r.Status >= 500 && r.Status != 503 {
				x.mainMaybe++
			}
		case backup.sid:
			x.backupRequests++
			if r.Accepted {
				x.backupAccepted++
			}
		default:
			t.Errorf("a message reached account %s, which is not this row's", r.AccountSID)
		}
	}

	wants := fc.answers
	if fb {
		wants = fc.fbAnswers
	}
	got := map[string]int{}
	var slowest time.Duration
	var accepted, mainReq, backupReq, taken, okAnswers, withSid int
	budget := matrixTimeout + matrixSlack
	for j, c := range calls {
		a := c.a
		x := bySMS[c.msg]
		if x == nil {
			x = &sent{}
		}
		accepted += x.mainAccepted + x.backupAccepted
		mainReq += x.mainRequests
		backupReq += x.backupRequests
		if x.backupRequests > 0 {
			taken++
		}
		slowest = max(slowest, a.Elapsed)
		if a.OK {
			okAnswers++
			if a.Sid != "" {
				withSid++
			}
		}
		got[a.String()]++
		if err := a.definite(); err != nil {
			t.Errorf("request %d: no definite answer: %v", j, err)
			continue
		}
		if a.Elapsed > budget {
			t.Errorf("request %d: answered after %s, budget %s (timeout %s + slack %s)", j, a.Elapsed.Round(time.Millisecond), budget, matrixTimeout, matrixSlack)
		}
		if !matches(a, wants) {
			t.Errorf("request %d: answer %s, want one of %v", j, a, wants)
		}
		n := x.mainAccepted + x.backupAccepted
		switch {
		case n > 1:
			t.Errorf("request %d: the simulator accepted %d messages for one caller request", j, n)
		case a.OK && n != 1:
			t.Errorf("request %d: answered accepted but the simulator accepted %d messages", j, n)
		case a.Outcome != "accepted" && a.Outcome != "unknown" && n != 0:
			t.Errorf("request %d: answered %s (nothing sent) but the simulator accepted %d", j, a.Outcome, n)
		}
		if !fb && n != fc.sent {
			t.Errorf("request %d: the simulator accepted %d messages, want %d", j, n, fc.sent)
		}
		if x.backupRequests > 0 && (x.mainAccepted > 0 || x.mainMaybe > 0) {
			t.Errorf("request %d: fell back after the main account accepted (or may have sent) the message", j)
		}
		if fb && fc.fallback == "breaker" && x.backupRequests > 0 && x.mainRequests > 0 {
			t.Errorf("request %d: fell back after reaching the main account (want a fallback only while its breaker is open)", j)
		}
		if fb && (fc.fallback == "all" && x.backupRequests == 0 || fc.fallback == "none" && x.backupRequests > 0) {
			t.Errorf("request %d: fallback taken = %t, want %s", j, x.backupRequests > 0, fc.fallback)
		}
		if fb && fc.fallback == "some" && x.backupRequests == 0 && (a.Outcome == "accepted" || a.Outcome == "unknown") {
			t.Errorf("request %d: no fallback yet answered %s", j, a)
		}
		if a.OK && fb && fc.fallback != "none" && a.Account != "backup" {
			t.Errorf("request %d: accepted by account %q, want backup", j, a.Account)
		}
		if fc.mode == "" && a.OK && a.Sid == "" {
			t.Errorf("request %d: accepted without a sid", j)
		}
	}
	if fb && (fc.fallback == "some" || fc.fallback == "breaker") && taken == 0 {
		t.Errorf("no request fell back, want at least one")
	}
	fbText := "no fallback configured"
	takenText := "-"
	if fb {
		fbText = "fallback configured"
		takenText = fmt.Sprintf("%d/%d", taken, matrixN)
	}
	return matrixRow{
		mode: fc.name, fallback: fbText, answers: summarize(got), sids: fmt.Sprintf("%d/%d", withSid, okAnswers), accepted: fmt.Sprintf("%d/%d", accepted, matrixN),
		requests: fmt.Sprintf("%d / %d", mainReq, backupReq), taken: takenText, slowest: slowest.Round(10 * time.Millisecond).String(),
	}
}

func matches(a answer, wants []want) bool {
	for _, w := range wants {
		if a.Status == w.status && a.Outcome == w.outcome && a.Code == w.code {
			return true
		}
	}
	return false
}

func summarize(got map[string]int) string {
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d× %s", got[k], k))
	}
	return strings.Join(parts, ", ")
}

func renderMatrix(rows []matrixRow) string {
	var b strings.Builder
	b.WriteString("| fault at the main account | route | caller answers (HTTP outcome code) | ok answers with a sid | accepted at simulator | simulator requests main / backup | fallback taken | slowest answer |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.mode, r.fallback, r.answers, r.sids, r.accepted, r.requests, r.taken, r.slowest)
	}
	return b.String()
}
