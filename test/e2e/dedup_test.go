package e2e

import (
	"sync"
	"testing"
	"time"
)

// acceptedFor counts the messages with body msg the simulator accepted.
func acceptedFor(t testing.TB, s *sim, msg string) (accepted, requests int) {
	t.Helper()
	s.idle(t)
	for _, r := range s.records(t) {
		if r.Form.Get("Body") == msg {
			requests++
			if r.Accepted {
				accepted++
			}
		}
	}
	return accepted, requests
}

// TestDuplicateSuppression checks the dedup window end to end: a repeat of the
// same destination and text gets the first answer and sends nothing; another
// text, or a first attempt that proves nothing was sent, sends again.
func TestDuplicateSuppression(t *testing.T) {
	caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ad := startAdapter(t, "",
		route{path: "/sms", lines: append(accountLines(s, acc), "name dedup-long", "timeout 3s", "dial_timeout 500ms")},
		route{path: "/short", lines: append(accountLines(s, acc), "name dedup-short", "timeout 1s", "dial_timeout 250ms", "breaker 1000 1s")},
	)
	client := callerClient(t, 16, 10*time.Second)

	t.Run("repeat gets the first answer, another text sends again", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		first := post(client, ad.base()+"/sms", smsForm(to, msg))
		if !first.OK || first.Sid == "" {
			t.Fatalf("first: %s, want 200 accepted with a sid", first)
		}
		again := post(client, ad.base()+"/sms", smsForm(to, msg))
		if !again.OK || again.Sid != first.Sid {
			t.Errorf("repeat: %s sid %q, want the first answer (sid %q)", again, again.Sid, first.Sid)
		}
		other, _ := newMessage(t)
		second := post(client, ad.base()+"/sms", smsForm(to, other))
		if !second.OK || second.Sid == "" || second.Sid == first.Sid {
			t.Errorf("another text: %s sid %q, want a new message", second, second.Sid)
		}
		if n, _ := acceptedFor(t, s, msg); n != 1 {
			t.Errorf("the simulator accepted the repeated text %d times, want 1", n)
		}
		if n, _ := acceptedFor(t, s, other); n != 1 {
			t.Errorf("the simulator accepted the other text %d times, want 1", n)
		}
	})

	t.Run("identical requests at once send one message", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		s.fault(t, acc.sid, "slow", "delay", "300ms", "count", "1") // the first one takes 300ms, then 201
		answers := make([]answer, 5)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = post(client, ad.base()+"/sms", smsForm(to, msg))
			}()
		}
		wg.Wait()
		for i, a := range answers {
			if !a.OK || a.Sid == "" || a.Sid != answers[0].Sid {
				t.Errorf("caller %d: %s sid %q, want 200 accepted with the shared sid %q", i, a, a.Sid, answers[0].Sid)
			}
		}
		if n, _ := acceptedFor(t, s, msg); n != 1 {
			t.Errorf("the simulator accepted %d messages, want 1", n)
		}
	})

	// The caller's own HTTP client gives up first (a product with a shorter
	// timeout than the route) and posts the same request again. The adapter
	// should finish the first send within its own budget and give the retry
	// that answer: same sid, one message.
	t.Run("caller times out and re-posts", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		s.fault(t, acc.sid, "slow", "delay", "800ms", "count", "1") // 201 after 800ms, within the route's 3s
		impatient := callerClient(t, 1, 300*time.Millisecond)
		first := post(impatient, ad.base()+"/sms", smsForm(to, msg))
		if first.Err == nil {
			t.Fatalf("first: %s, want the caller's own timeout", first)
		}
		again := post(client, ad.base()+"/sms", smsForm(to, msg))
		third := post(client, ad.base()+"/sms", smsForm(to, msg))
		n, _ := acceptedFor(t, s, msg)
		if n != 1 {
			t.Errorf("the simulator accepted %d messages, want 1", n)
		}
		if !again.OK || again.Sid == "" {
			t.Errorf("re-post after the caller's timeout: %s (%s), want 200 accepted with the sid of the message the first request sent", again, again.Message)
		}
		if third.Sid != again.Sid || third.Outcome != again.Outcome {
			t.Errorf("third post: %s sid %q, want the same answer as the second (%s sid %q)", third, third.Sid, again, again.Sid)
		}
	})

	t.Run("route timeout then re-post never sends twice", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		s.fault(t, acc.sid, "slow", "delay", "3s", "count", "1")
		first := post(client, ad.base()+"/short", smsForm(to, msg))
		if first.Status != 504 || first.Outcome != "unknown" {
			t.Fatalf("first: %s, want 504 unknown", first)
		}
		again := post(client, ad.base()+"/short", smsForm(to, msg))
		if again.Status != 504 || again.Outcome != "unknown" {
			t.Errorf("re-post: %s, want the first answer (504 unknown): the message may have gone out", again)
		}
		if again.Elapsed > 500*time.Millisecond {
			t.Errorf("re-post took %s: a remembered answer should come at once", again.Elapsed)
		}
		if n, _ := acceptedFor(t, s, msg); n != 1 {
			t.Errorf("the simulator accepted %d messages, want 1 (the first, unanswered)", n)
		}
	})

	t.Run("nothing sent then re-post sends", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		// Twilio's 503/20503 proves nothing was processed (a 500 does not:
		// see the next subtest).
		s.fault(t, acc.sid, "503", "count", "1")
		first := post(client, ad.base()+"/short", smsForm(to, msg))
		if first.Status != 502 || first.Outcome != "rejected" {
			t.Fatalf("first: %s, want 502 rejected", first)
		}
		again := post(client, ad.base()+"/short", smsForm(to, msg))
		if !again.OK || again.Sid == "" {
			t.Errorf("re-post: %s, want 200 accepted: the first attempt proved nothing was sent", again)
		}
		if n, reqs := acceptedFor(t, s, msg); n != 1 || reqs != 2 {
			t.Errorf("the simulator got %d requests and accepted %d, want 2 and 1", reqs, n)
		}
	})

	t.Run("500 then re-post never sends twice", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		s.fault(t, acc.sid, "5xx", "count", "1")
		first := post(client, ad.base()+"/short", smsForm(to, msg))
		if first.Outcome != "unknown" {
			t.Fatalf("first: %s, want unknown: a 500 does not prove that nothing was sent", first)
		}
		again := post(client, ad.base()+"/short", smsForm(to, msg))
		if again.Status != first.Status || again.Outcome != first.Outcome {
			t.Errorf("re-post: %s, want the first answer (%s)", again, first)
		}
		if _, reqs := acceptedFor(t, s, msg); reqs != 1 {
			t.Errorf("the simulator got %d requests, want 1", reqs)
		}
	})

	t.Run("survives a config reload", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		first := post(client, ad.base()+"/sms", smsForm(to, msg))
		if !first.OK {
			t.Fatalf("first: %s", first)
		}
		if err := ad.reload("\trespond /reloaded \"reloaded once\" 200", nil); err != nil {
			t.Fatal(err)
		}
		if body := getBody(t, ad.base()+"/reloaded"); body != "reloaded once" {
			t.Fatalf("GET /reloaded: %q: the reload did not take effect", body)
		}
		// The old server closes its idle connections; a pooled one may not
		// know yet (see TestLoad), so do not reuse them.
		client.CloseIdleConnections()
		again := post(client, ad.base()+"/sms", smsForm(to, msg))
		if !again.OK || again.Sid != first.Sid {
			t.Errorf("repeat after a reload: %s sid %q, want the first answer (sid %q)", again, again.Sid, first.Sid)
		}
		if n, _ := acceptedFor(t, s, msg); n != 1 {
			t.Errorf("the simulator accepted %d messages, want 1", n)
		}
	})

	// A reload that only renames the route (a label "in logs and metrics")
	// must not forget what was sent: the dedup cache is pooled under the
	// route's name, so a renamed route starts with an empty one.
	t.Run("survives a reload that renames the route", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		first := post(client, ad.base()+"/sms", smsForm(to, msg))
		if !first.OK {
			t.Fatalf("first: %s", first)
		}
		err := ad.reload("", func(rs []route) []route {
			rs[0].lines = append([]string(nil), rs[0].lines...)
			for i, l := range rs[0].lines {
				if l == "name dedup-long" {
					rs[0].lines[i] = "name dedup-long-renamed"
				}
			}
			return rs
		})
		if err != nil {
			t.Fatal(err)
		}
		client.CloseIdleConnections()
		again := post(client, ad.base()+"/sms", smsForm(to, msg))
		if n, _ := acceptedFor(t, s, msg); n != 1 || again.Sid != first.Sid {
			t.Errorf("repeat after renaming the route: %s sid %q, the simulator accepted %d messages; want the first answer (sid %q) and 1 message", again, again.Sid, n, first.Sid)
		}
	})
}
