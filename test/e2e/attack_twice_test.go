package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAttackNeverTwice: a message that was, or may have been, sent is never
// sent again: not through the fallback after a 500, not on a re-post, and
// not after a reload that rotates a fallback's token, removes the fallback or
// changes the dedup window.
func TestAttackNeverTwice(t *testing.T) {
	caddyBin(t)
	main, backup := newSimAccount(t), newSimAccount(t)
	rmain, rbackup := newSimAccount(t), newSimAccount(t)
	s := startSim(t, simOptions{}, main, backup, rmain, rbackup)
	fallback := func(acc simAccount, token string) []string {
		return []string{"fallback backup {", "\taccount_sid " + acc.sid, "\tauth_token " + token,
			"\tfrom +15005550006", "\tapi_url " + s.url(), "}"}
	}
	ad := startAdapter(t, "",
		route{path: "/fb", lines: append(append(accountLines(s, main), "name twice-5xx", "timeout 1500ms", "dial_timeout 250ms",
			"breaker 1000 1s"), fallback(backup, backup.token)...)},
		route{path: "/reload", lines: append(append(accountLines(s, rmain), "name twice-reload", "timeout 2s", "dial_timeout 250ms",
			"dedup 2m"), fallback(rbackup, rbackup.token)...)},
	)
	client := callerClient(t, 4, 10*time.Second)

	t.Run("500 with a fallback: not sent again, re-post gets the same answer", func(t *testing.T) {
		s.fault(t, main.sid, "5xx")
		defer s.fault(t, main.sid, "none")
		to := newPhone(t)
		msg, _ := newMessage(t)
		first := post(client, ad.base()+"/fb", smsForm(to, msg))
		again := post(client, ad.base()+"/fb", smsForm(to, msg))
		if first.Outcome != "unknown" || first.Status < 500 {
			t.Errorf("first: %s (%s), want a 5xx unknown: a 500 does not prove that nothing was sent", first, first.Message)
		}
		if again.Status != first.Status || again.Outcome != first.Outcome || again.Code != first.Code {
			t.Errorf("re-post: %s, want the first answer %s", again, first)
		}
		rs := recordsWhere(t, s, byBody(msg))
		onBackup := 0
		for _, r := range rs {
			if r.AccountSID == backup.sid {
				onBackup++
			}
		}
		t.Logf("500 at the main account: first %s, re-post %s; simulator requests %d (fallback %d)", first, again, len(rs), onBackup)
		if len(rs) != 1 || onBackup != 0 {
			t.Errorf("the simulator got %d requests (%d through the fallback), want exactly 1, through the main account", len(rs), onBackup)
		}
	})

	t.Run("dedup survives reloads", func(t *testing.T) {
		type sentMsg struct{ to, msg, sid string }
		var sent []sentMsg
		sendNew := func(stage string) {
			to := newPhone(t)
			msg, _ := newMessage(t)
			a := post(client, ad.base()+"/reload", smsForm(to, msg))
			if !a.OK || a.Sid == "" {
				t.Fatalf("%s: %s (%s), want 200 with a sid", stage, a, a.Message)
			}
			sent = append(sent, sentMsg{to, msg, a.Sid})
		}
		repost := func(stage string) {
			for i, m := range sent {
				a := post(client, ad.base()+"/reload", smsForm(m.to, m.msg))
				if !a.OK || a.Sid != m.sid {
					t.Errorf("%s: re-post of message %d: %s sid %q, want the first answer (sid %q)", stage, i, a, a.Sid, m.sid)
				}
				if n := len(recordsWhere(t, s, byBody(m.msg))); n != 1 {
					t.Errorf("%s: message %d reached the simulator %d times, want 1", stage, i, n)
				}
			}
		}
		reloads := []struct {
			name string
			edit func(lines []string) []string
		}{
			{"rotate the fallback's token", func(lines []string) []string {
				rotated := newToken(t, "auth_token")
				out := append([]string(nil), lines...)
				for i, l := range out {
					if l == "\tauth_token "+rbackup.token {
						out[i] = "\tauth_token " + rotated
					}
				}
				return out
			}},
			{"remove the fallback", func(lines []string) []string {
				var out []string
				skip := false
				for _, l := range lines {
					switch {
					case l == "fallback backup {":
						skip = true
					case skip && l == "}":
						skip = false
					case !skip:
						out = append(out, l)
					}
				}
				return out
			}},
			{"change the window to 5m", func(lines []string) []string {
				return replaceLine(lines, "dedup 2m", "dedup 5m")
			}},
			{"shrink the window to 30s", func(lines []string) []string {
				return replaceLine(lines, "dedup 5m", "dedup 30s")
			}},
		}
		current := ad.routes[1].lines
		for i, rl := range reloads {
			sendNew("before reload " + rl.name)
			current = rl.edit(current)
			lines := current
			marker := fmt.Sprintf("reloaded %d", i+1)
			err := ad.reload(fmt.Sprintf("\trespond /reloaded-%d %q 200", i+1, marker), func(rs []route) []route {
				rs[1].lines = lines
				return rs
			})
			if err != nil {
				t.Fatalf("reload (%s): %v", rl.name, err)
			}
			if body := getBody(t, fmt.Sprintf("%s/reloaded-%d", ad.base(), i+1)); body != marker {
				t.Fatalf("reload (%s) did not take effect: %q", rl.name, body)
			}
			client.CloseIdleConnections()
			repost("after reload " + rl.name)
		}
		t.Logf("%d messages re-posted after each of %d reloads: each reached the simulator once", len(sent), len(reloads))
	})
}

func replaceLine(lines []string, old, new string) []string {
	out := append([]string(nil), lines...)
	for i, l := range out {
		if l == old {
			out[i] = new
		}
	}
	return out
}

// TestAttackGracePeriodShorterThanTimeout: a server grace_period shorter than
// a route's timeout would cut requests Twilio already took at a reload or
// stop. The adapter warns at provisioning, naming the route, and
// `caddy twilio-sms check --config` fails naming it; with a long enough
// grace_period check passes.
func TestAttackGracePeriodShorterThanTimeout(t *testing.T) {
	bin := caddyBin(t)
	acc := newSimAccount(t)
	s := startSim(t, simOptions{}, acc)
	ad := startAdapterGlobal(t, "grace_period 1s", "",
		route{path: "/sms", lines: append(accountLines(s, acc), "name grace-short", "timeout 3s", "dial_timeout 500ms")})
	l, ok := waitLog(ad.proc, 5*time.Second, func(l logLine) bool {
		return l.Level == "warn" && strings.Contains(l.Msg, "grace_period") && l.Route == "grace-short"
	})
	if !ok {
		t.Errorf("no warning naming route grace-short and grace_period in the adapter's log")
	} else {
		t.Logf("adapter warned: %s", l.Msg)
	}

	check := func(file string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "twilio-sms", "check", "--config", file)
		cmd.Dir = filepath.Dir(file)
		cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(file))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	short := filepath.Join(ad.dir, "adapter.Caddyfile")
	out, err := check(short)
	if strings.Contains(out, acc.token) {
		t.Errorf("check --config prints the auth token")
	}
	if err == nil {
		t.Errorf("check --config with grace_period 1s < timeout 3s exited 0, want non-zero:\n%s", out)
	} else if !strings.Contains(out, "grace-short") || !strings.Contains(out, "grace_period") {
		t.Errorf("check --config failed (%v) but does not name the route and grace_period:\n%s", err, out)
	} else {
		t.Logf("check --config: %v\n%s", err, out)
	}
	long := *ad
	long.global = "grace_period 10s"
	okFile := filepath.Join(t.TempDir(), "long.Caddyfile")
	if err := os.WriteFile(okFile, []byte(long.caddyfile("", ad.routes, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := check(okFile); err != nil {
		t.Errorf("check --config with grace_period 10s ≥ timeout 3s: %v, want exit 0:\n%s", err, out)
	}
}

// TestAttackDedupNotEvictedByFlood: an attacker (or a busy day) sends 10,000
// other messages between a message and its re-post; the dedup cache must not
// forget the first one early (its cap is 100,000 entries: it refuses new sends
// with 503 at the cap rather than evicting an entry inside its window).
// It runs only with E2E_LOAD=1 (CI sets it): about 6 s, 26 s under -race.
func TestAttackDedupNotEvictedByFlood(t *testing.T) {
	caddyBin(t)
	if os.Getenv("E2E_LOAD") != "1" {
		t.Skip("e2e: set E2E_LOAD=1 to send 10,000 messages")
	}
	const others = 10000
	acc := newSimAccount(t)
	s := startSim(t, simOptions{maxRecords: others + 100}, acc)
	ad := startAdapter(t, "", route{path: "/sms", lines: append(accountLines(s, acc), "name dedup-flood", "timeout 5s",
		"dial_timeout 500ms", "max_concurrent 64", "rate_limit destination off")})
	client := callerClient(t, 32, 10*time.Second)
	to := newPhone(t)
	msg, _ := newMessage(t)
	first := post(client, ad.base()+"/sms", smsForm(to, msg))
	if !first.OK || first.Sid == "" {
		t.Fatalf("first: %s (%s)", first, first.Message)
	}
	start := time.Now()
	var failed atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > others {
					return
				}
				// Filler texts carry no code: nothing to register or scan for.
				a := post(client, ad.base()+"/sms", smsForm(to, fmt.Sprintf("filler %d", i)))
				if !a.OK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	again := post(client, ad.base()+"/sms", smsForm(to, msg))
	n := len(recordsWhere(t, s, byBody(msg)))
	t.Logf("%d other messages in %s (%d not accepted); re-post: %s, the first message reached the simulator %d time(s)",
		others, took.Round(10*time.Millisecond), failed.Load(), again, n)
	if !again.OK || again.Sid != first.Sid || n != 1 {
		t.Errorf("re-post after %d other messages: %s sid %q, simulator %d; want the first answer (sid %q) and 1 message", others, again, again.Sid, n, first.Sid)
	}
}
