package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestSDKGo drives Twilio's official Go SDK (github.com/twilio/twilio-go)
// against https://api.twilio.com served on loopback, once through the
// adapter (twilio mapping, credentials passthrough) and once through a plain
// reverse proxy in front of the same simulator. For every operation, what the
// SDK returned and what reached Twilio must be the same both ways, except the
// values that legitimately differ (SIDs, dates, and the documented TimeLimit
// the adapter adds to calls).
func TestSDKGo(t *testing.T) {
	st := startSDKStack(t)
	g := newGoSDK(t, st, st.acc.sid, st.acc.token)

	t.Run("create with From", func(t *testing.T) {
		to, body := newPhone(t), sdkBody(t)
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetFrom(sdkFrom).SetBody(body))
		})
		for _, r := range []sdkResult{p, a} {
			wantMessage(t, r, "SM", map[string]any{"status": "queued", "to": to, "from": sdkFrom, "body": body,
				"messaging_service_sid": nil, "num_media": "0", "direction": "outbound-api", "account_sid": st.acc.sid})
			wantCreate(t, r, url.Values{"To": {to}, "From": {sdkFrom}, "Body": {body}})
		}
		expectSame(t, "create with From", p, a)
	})

	t.Run("create with MessagingServiceSid", func(t *testing.T) {
		to, body, mg := newPhone(t), sdkBody(t), sdkSID("MG")
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetMessagingServiceSid(mg).SetBody(body))
		})
		for _, r := range []sdkResult{p, a} {
			wantMessage(t, r, "SM", map[string]any{"status": "accepted", "to": to, "from": nil, "body": body,
				"messaging_service_sid": mg, "num_media": "0"})
			wantCreate(t, r, url.Values{"To": {to}, "MessagingServiceSid": {mg}, "Body": {body}})
		}
		expectSame(t, "create with MessagingServiceSid", p, a)
	})

	t.Run("create with StatusCallback and ValidityPeriod", func(t *testing.T) {
		cb := startCallbackReceiver(t)
		to, body := newPhone(t), sdkBody(t)
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetFrom(sdkFrom).SetBody(body).
				SetStatusCallback(cb.url).SetValidityPeriod(600))
		})
		for _, r := range []sdkResult{p, a} {
			wantMessage(t, r, "SM", map[string]any{"status": "queued", "to": to, "from": sdkFrom, "body": body})
			wantCreate(t, r, url.Values{"To": {to}, "From": {sdkFrom}, "Body": {body}, "StatusCallback": {cb.url}, "ValidityPeriod": {"600"}})
		}
		expectSame(t, "create with StatusCallback and ValidityPeriod", p, a)
		// Twilio's status callbacks reach the application for both, signed
		// so that the SDK's own validator accepts them.
		validator := twclient.NewRequestValidator(st.acc.token)
		var seqs [2][]string
		for i, r := range []sdkResult{p, a} {
			sid, _ := r.fields["sid"].(string)
			got := cb.waitFor(t, sid, "delivered", 5*time.Second)
			for _, c := range got {
				seqs[i] = append(seqs[i], c.form.Get("MessageStatus"))
				params := map[string]string{}
				for k := range c.form {
					params[k] = c.form.Get(k)
				}
				if !validator.Validate(cb.url, params, c.signature) {
					t.Errorf("%s: status callback %s for %s fails the SDK's RequestValidator", r.side, c.form.Get("MessageStatus"), sid)
				}
				if c.form.Get("To") != to || c.form.Get("From") != sdkFrom || c.form.Get("AccountSid") != st.acc.sid {
					t.Errorf("%s: status callback carries To/From/AccountSid %v", r.side, c.form)
				}
			}
		}
		if !slices.Equal(seqs[0], seqs[1]) || !slices.Equal(seqs[0], []string{"sent", "delivered"}) {
			t.Errorf("status callbacks: proxy %v, adapter %v; want [sent delivered] both", seqs[0], seqs[1])
		}
	})

	t.Run("create with MediaUrl", func(t *testing.T) {
		to, body := newPhone(t), sdkBody(t)
		media := []string{"https://example.com/a.png", "https://example.com/b.jpg"}
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetFrom(sdkFrom).SetBody(body).SetMediaUrl(media))
		})
		for _, r := range []sdkResult{p, a} {
			wantMessage(t, r, "MM", map[string]any{"status": "queued", "to": to, "from": sdkFrom, "body": body, "num_media": "2"})
			wantCreate(t, r, url.Values{"To": {to}, "From": {sdkFrom}, "Body": {body}, "MediaUrl": media})
		}
		expectSame(t, "create with MediaUrl", p, a)
	})

	t.Run("create with MediaUrl and no Body", func(t *testing.T) {
		to := newPhone(t)
		media := []string{"https://example.com/c.png"}
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetFrom(sdkFrom).SetMediaUrl(media))
		})
		for _, r := range []sdkResult{p, a} {
			wantMessage(t, r, "MM", map[string]any{"status": "queued", "to": to, "from": sdkFrom, "body": "", "num_media": "1"})
			wantCreate(t, r, url.Values{"To": {to}, "From": {sdkFrom}, "MediaUrl": media})
		}
		expectSame(t, "create with MediaUrl and no Body", p, a)
	})

	t.Run("scheduled, fetched, then canceled", func(t *testing.T) {
		to, body, mg := newPhone(t), sdkBody(t), sdkSID("MG")
		sendAt := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetMessagingServiceSid(mg).SetBody(body).
				SetScheduleType("fixed").SetSendAt(sendAt))
		})
		for _, r := range []sdkResult{p, a} {
			wantMessage(t, r, "SM", map[string]any{"status": "scheduled", "to": to, "messaging_service_sid": mg, "body": body})
			wantCreate(t, r, url.Values{"To": {to}, "MessagingServiceSid": {mg}, "Body": {body}, "ScheduleType": {"fixed"}, "SendAt": {sendAt.Format(time.RFC3339)}})
		}
		expectSame(t, "scheduled create", p, a)
		sids := map[string]string{"proxy": sidOf(p), "adapter": sidOf(a)}

		fp, fa := g.both(t, func(c *twilio.RestClient) sdkResult { return g.fetchMessage(t, c, sids[g.current]) })
		for _, r := range []sdkResult{fp, fa} {
			wantMessage(t, r, "SM", map[string]any{"status": "scheduled"})
		}
		expectSame(t, "fetch of a scheduled message", fp, fa)

		up, ua := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.updateMessage(t, c, sids[g.current], new(api.UpdateMessageParams).SetStatus("canceled"))
		})
		for _, r := range []sdkResult{up, ua} {
			wantMessage(t, r, "SM", map[string]any{"status": "canceled", "to": to})
			if len(r.recs) != 1 || r.recs[0].Op != "update" || r.recs[0].Form.Get("Status") != "canceled" || r.recs[0].Sid != sids[r.side] {
				t.Errorf("%s: Twilio got %s, want one update Status=canceled of %s", r.side, recSummary(r.recs), sids[r.side])
			}
		}
		expectSame(t, "cancel (update Status=canceled)", up, ua)

		// Canceling again is Twilio's 30409 (only a scheduled message can be).
		ep, ea := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.updateMessage(t, c, sids[g.current], new(api.UpdateMessageParams).SetStatus("canceled"))
		})
		for _, r := range []sdkResult{ep, ea} {
			wantRestError(t, r, 400, 30409)
		}
		expectSame(t, "cancel of a canceled message", ep, ea)
	})

	t.Run("fetch until delivered", func(t *testing.T) {
		to, body := newPhone(t), sdkBody(t)
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetFrom(sdkFrom).SetBody(body))
		})
		sids := map[string]string{"proxy": sidOf(p), "adapter": sidOf(a)}
		// Both messages go queued → sent → delivered in 100 ms steps.
		time.Sleep(500 * time.Millisecond)
		fp, fa := g.both(t, func(c *twilio.RestClient) sdkResult { return g.fetchMessage(t, c, sids[g.current]) })
		for _, r := range []sdkResult{fp, fa} {
			wantMessage(t, r, "SM", map[string]any{"status": "delivered", "to": to, "from": sdkFrom, "body": body, "error_code": nil})
			if len(r.recs) != 1 || r.recs[0].Op != "fetch" || r.recs[0].Sid != sids[r.side] {
				t.Errorf("%s: Twilio got %s, want one fetch of %s", r.side, recSummary(r.recs), sids[r.side])
			}
		}
		expectSame(t, "fetch", fp, fa)

		// A delivered message may be deleted (Twilio answers 204).
		dp, da := g.both(t, func(c *twilio.RestClient) sdkResult {
			return sdkResult{err: c.Api.DeleteMessage(sids[g.current], nil), subst: map[string]string{sids[g.current]: "<sid>"}}
		})
		for _, r := range []sdkResult{dp, da} {
			if r.err != nil || len(r.recs) != 1 || r.recs[0].Op != "delete" || r.recs[0].Status != http.StatusNoContent {
				t.Errorf("%s: delete: %v; Twilio got %s", r.side, r.err, recSummary(r.recs))
			}
		}
		expectSame(t, "delete", dp, da)
	})

	t.Run("list with To, page by page", func(t *testing.T) {
		// Each side sends two messages to a number of its own and lists them,
		// one per page: the SDK follows next_page_uri for the second.
		nums := map[string]string{"proxy": newPhone(t), "adapter": newPhone(t)}
		sent := map[string][]string{}
		for i := range 2 {
			body := sdkBody(t)
			p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
				return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(nums[g.current]).SetFrom(sdkFrom).SetBody(body))
			})
			if sidOf(p) == "" || sidOf(a) == "" {
				t.Fatalf("create %d: proxy %v, adapter %v", i, p.err, a.err)
			}
			sent["proxy"] = append(sent["proxy"], sidOf(p))
			sent["adapter"] = append(sent["adapter"], sidOf(a))
		}
		subst := func(side string) map[string]string {
			return map[string]string{nums[side]: "<to>", url.QueryEscape(nums[side]): "<to>", sent[side][0]: "<sid1>", sent[side][1]: "<sid2>"}
		}
		lp, la := g.both(t, func(c *twilio.RestClient) sdkResult {
			r := sdkResult{subst: subst(g.current)}
			msgs, err := c.Api.ListMessage(new(api.ListMessageParams).SetTo(nums[g.current]).SetPageSize(1).SetLimit(5))
			r.err = err
			if err == nil {
				r.fields = map[string]any{"messages": toFields(t, map[string]any{"m": msgs})["m"]}
			}
			return r
		})
		for _, r := range []sdkResult{lp, la} {
			if r.err != nil {
				t.Errorf("%s: list: %v", r.side, r.err)
				continue
			}
			var got []string
			for _, m := range r.fields["messages"].([]any) {
				got = append(got, m.(map[string]any)["sid"].(string))
			}
			if want := []string{sent[r.side][1], sent[r.side][0]}; !slices.Equal(got, want) {
				t.Errorf("%s: list gave %v, want %v (newest first)", r.side, got, want)
			}
			pages := 0
			for _, rec := range r.recs {
				if rec.Op == "list" && rec.Query.Get("To") == nums[r.side] && rec.Query.Get("PageSize") == "1" {
					pages++
				}
			}
			if pages < 2 || pages != len(r.recs) {
				t.Errorf("%s: Twilio got %s; want every page (2 or 3) listed with To and PageSize=1", r.side, recSummary(r.recs))
			}
		}
		expectSame(t, "list", lp, la)

		// One page with its envelope (uri, next_page_uri, page_size …).
		pp, pa := g.both(t, func(c *twilio.RestClient) sdkResult {
			r := sdkResult{subst: subst(g.current)}
			m, err := c.Api.PageMessageWithMetadata(new(api.ListMessageParams).SetTo(nums[g.current]).SetPageSize(1), "", "")
			r.err = err
			if err == nil {
				r.fields, r.status, r.header = toFields(t, m.GetResource()), m.GetStatusCode(), m.GetHeaders()
			}
			return r
		})
		for _, r := range []sdkResult{pp, pa} {
			if r.err != nil || r.status != http.StatusOK || r.fields["next_page_uri"] == nil {
				t.Errorf("%s: first page: %v, HTTP %d, %v", r.side, r.err, r.status, r.fields)
			}
		}
		expectSame(t, "list page envelope", pp, pa)
	})

	t.Run("API key credentials", func(t *testing.T) {
		k := newGoSDK(t, st, st.acc.keys[0][0], st.acc.keys[0][1])
		to, body := newPhone(t), sdkBody(t)
		p, a := k.both(t, func(c *twilio.RestClient) sdkResult {
			return k.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetFrom(sdkFrom).SetBody(body))
		})
		for _, r := range []sdkResult{p, a} {
			wantMessage(t, r, "SM", map[string]any{"status": "queued", "to": to, "account_sid": st.acc.sid})
			if len(r.recs) == 1 && r.recs[0].AuthUser != st.acc.keys[0][0] {
				t.Errorf("%s: Twilio saw user %s, want the API key", r.side, r.recs[0].AuthUser)
			}
		}
		expectSame(t, "create with an API key", p, a)
		sids := map[string]string{"proxy": sidOf(p), "adapter": sidOf(a)}
		fp, fa := k.both(t, func(c *twilio.RestClient) sdkResult { return k.fetchMessage(t, c, sids[k.current]) })
		expectSame(t, "fetch with an API key", fp, fa)
	})

	t.Run("call with Twiml", func(t *testing.T) {
		to := newPhone(t)
		msg, _ := newMessage(t)
		twiml := `<Response><Say voice="alice" language="en-US">` + msg + `</Say><Pause length="1"/></Response>`
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createCall(t, c, new(api.CreateCallParams).SetTo(to).SetFrom(sdkFrom).SetTwiml(twiml))
		})
		// The adapter adds TimeLimit to every call (README, "Abuse control":
		// time_limit, default 120 s): the one documented difference.
		if len(a.recs) == 1 {
			if got := a.recs[0].Form.Get("TimeLimit"); got != "120" {
				t.Errorf("adapter: Twilio got TimeLimit %q, want the default time_limit 120", got)
			}
			a.recs[0].Form.Del("TimeLimit")
			// The adapter re-serializes the caller's TwiML (it checks every
			// verb): the same document, possibly other bytes.
			if got := a.recs[0].Form.Get("Twiml"); got != twiml {
				if !sameXML(got, twiml) {
					t.Errorf("adapter: Twilio got Twiml %q, not the document the SDK sent (%q)", got, twiml)
				} else {
					t.Logf("adapter: Twilio got the same TwiML document in other bytes: %q for %q", got, twiml)
					a.recs[0].Form.Set("Twiml", twiml)
				}
			}
		}
		for _, r := range []sdkResult{p, a} {
			wantResource(t, r, "CA", http.StatusCreated, map[string]any{"status": "queued", "to": to, "from": sdkFrom, "direction": "outbound-api"})
			wantCreate(t, r, url.Values{"To": {to}, "From": {sdkFrom}, "Twiml": {twiml}})
		}
		expectSame(t, "call create", p, a)

		sids := map[string]string{"proxy": sidOf(p), "adapter": sidOf(a)}
		time.Sleep(500 * time.Millisecond) // queued → ringing → in-progress → completed
		fp, fa := g.both(t, func(c *twilio.RestClient) sdkResult {
			r := sdkResult{subst: map[string]string{sids[g.current]: "<sid>"}}
			m, err := c.Api.FetchCall(sids[g.current], nil)
			r.err = err
			if err == nil {
				r.fields = toFields(t, m)
			}
			return r
		})
		for _, r := range []sdkResult{fp, fa} {
			if r.err != nil || r.fields["status"] != "completed" {
				t.Errorf("%s: call fetch: %v %v", r.side, r.err, r.fields["status"])
			}
		}
		expectSame(t, "call fetch", fp, fa)

		lp, la := g.both(t, func(c *twilio.RestClient) sdkResult {
			r := sdkResult{subst: map[string]string{sids[g.current]: "<sid>"}}
			calls, err := c.Api.ListCall(new(api.ListCallParams).SetTo(to).SetStatus("completed").SetLimit(10))
			r.err = err
			if err == nil {
				r.fields = map[string]any{"calls": toFields(t, map[string]any{"c": calls})["c"]}
			}
			return r
		})
		for _, r := range []sdkResult{lp, la} {
			// Both sides called the same number: each sees both calls.
			if calls, _ := r.fields["calls"].([]any); r.err != nil || len(calls) != 2 {
				t.Errorf("%s: call list: %v, %d calls, want 2", r.side, r.err, len(calls))
			}
		}
		// The two lists are the same calls; make the SIDs the same names.
		lp.subst = map[string]string{sids["proxy"]: "<sid-proxy>", sids["adapter"]: "<sid-adapter>"}
		la.subst = lp.subst
		expectSame(t, "call list", lp, la)
	})

	t.Run("call with TwiML beyond Say and Pause", func(t *testing.T) {
		// The twilio mapping restricts TwiML to Say and Pause with stored
		// credentials (README, mappings/twilio.json); with passthrough the
		// caller's own account runs it, as through any proxy.
		to := newPhone(t)
		twiml := `<Response><Play loop="2">https://example.com/code.mp3</Play><Gather numDigits="1" action="https://example.com/next"><Say>Press 1</Say></Gather></Response>`
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createCall(t, c, new(api.CreateCallParams).SetTo(to).SetFrom(sdkFrom).SetTwiml(twiml))
		})
		if len(a.recs) == 1 {
			a.recs[0].Form.Del("TimeLimit") // documented (see "call with Twiml")
			if got := a.recs[0].Form.Get("Twiml"); got != twiml && sameXML(got, twiml) {
				a.recs[0].Form.Set("Twiml", twiml)
			}
		}
		for _, r := range []sdkResult{p, a} {
			wantResource(t, r, "CA", http.StatusCreated, map[string]any{"status": "queued", "to": to})
			wantCreate(t, r, url.Values{"To": {to}, "From": {sdkFrom}, "Twiml": {twiml}})
		}
		expectSame(t, "call create with Play and Gather", p, a)
	})

	t.Run("call with Url", func(t *testing.T) {
		// Twilio's own quick start: a call whose TwiML the caller's server
		// serves. Refused with stored credentials (21205), the caller's own
		// business with passthrough (internal/gateway/twilioapi.go).
		to, u := newPhone(t), "https://example.com/voice.xml"
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createCall(t, c, new(api.CreateCallParams).SetTo(to).SetFrom(sdkFrom).SetUrl(u))
		})
		if len(a.recs) == 1 {
			a.recs[0].Form.Del("TimeLimit") // documented (see "call with Twiml")
		}
		for _, r := range []sdkResult{p, a} {
			wantResource(t, r, "CA", http.StatusCreated, map[string]any{"status": "queued", "to": to})
			wantCreate(t, r, url.Values{"To": {to}, "From": {sdkFrom}, "Url": {u}})
		}
		expectSame(t, "call create with Url", p, a)
	})

	t.Run("Twilio sees the SDK's User-Agent", func(t *testing.T) {
		// Twilio tells its SDKs and their versions apart by User-Agent (and
		// shows it in the console's request logs). A plain proxy passes it
		// on; the adapter's forwarded requests do too, its creates must.
		to, body := newPhone(t), sdkBody(t)
		p, a := g.both(t, func(c *twilio.RestClient) sdkResult {
			return g.createMessage(t, c, new(api.CreateMessageParams).SetTo(to).SetFrom(sdkFrom).SetBody(body))
		})
		sids := map[string]string{"proxy": sidOf(p), "adapter": sidOf(a)}
		fp, fa := g.both(t, func(c *twilio.RestClient) sdkResult { return g.fetchMessage(t, c, sids[g.current]) })
		for _, op := range []struct {
			name string
			p, a sdkResult
		}{{"create", p, a}, {"fetch", fp, fa}} {
			if len(op.p.recs) != 1 || len(op.a.recs) != 1 {
				t.Errorf("%s: Twilio got proxy %s, adapter %s", op.name, recSummary(op.p.recs), recSummary(op.a.recs))
				continue
			}
			pu, au := op.p.recs[0].Header.Get("User-Agent"), op.a.recs[0].Header.Get("User-Agent")
			if !strings.HasPrefix(pu, "twilio-go/") {
				t.Errorf("%s through the proxy: User-Agent %q, want the SDK's", op.name, pu)
			}
			if au != pu {
				t.Errorf("%s: Twilio got User-Agent %q through the adapter, %q through a plain proxy", op.name, au, pu)
			}
		}
	})

	t.Run("Twilio errors surface as the SDK's RestError", func(t *testing.T) {
		wrong := newToken(t, "auth_token")
		bad := newGoSDK(t, st, st.acc.sid, wrong)
		cases := []struct {
			name          string
			g             *goSDK
			params        func() *api.CreateMessageParams
			status, code  int
			reachesTwilio bool // on the proxy, always; on the adapter, may stop earlier
		}{
			{"invalid To (21211)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo("+15005550001").SetFrom(sdkFrom).SetBody(sdkBody(t))
			}, 400, 21211, true},
			{"unsubscribed To (21610)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo("+15005550004").SetFrom(sdkFrom).SetBody(sdkBody(t))
			}, 400, 21610, true},
			{"From not owned (21606)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo(newPhone(t)).SetFrom("+15005550007").SetBody(sdkBody(t))
			}, 400, 21606, true},
			{"invalid From (21212)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo(newPhone(t)).SetFrom("+15005550001").SetBody(sdkBody(t))
			}, 400, 21212, true},
			{"no To (21604)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetFrom(sdkFrom).SetBody(sdkBody(t))
			}, 400, 21604, false},
			{"no sender (21603)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo(newPhone(t)).SetBody(sdkBody(t))
			}, 400, 21603, false},
			{"Body over 1600 characters (21617)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo(newPhone(t)).SetFrom(sdkFrom).SetBody(sdkBody(t) + strings.Repeat(" x", 800))
			}, 400, 21617, false},
			{"schedule without a Messaging Service (35118)", g, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo(newPhone(t)).SetFrom(sdkFrom).SetBody(sdkBody(t)).
					SetScheduleType("fixed").SetSendAt(time.Now().Add(time.Hour).UTC().Truncate(time.Second))
			}, 400, 35118, true},
			{"wrong auth token (20003)", bad, func() *api.CreateMessageParams {
				return new(api.CreateMessageParams).SetTo(newPhone(t)).SetFrom(sdkFrom).SetBody(sdkBody(t))
			}, 401, 20003, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				params := tc.params() // the same request both ways
				p, a := tc.g.both(t, func(c *twilio.RestClient) sdkResult { return tc.g.createMessage(t, c, params) })
				for _, r := range []sdkResult{p, a} {
					wantRestError(t, r, tc.status, tc.code)
				}
				if !tc.reachesTwilio && len(a.recs) == 0 && len(p.recs) == 1 {
					// The adapter refused it itself, as Twilio would have:
					// the client must not be able to tell.
					t.Logf("the adapter answered %d/%d itself (Twilio was not asked)", tc.status, tc.code)
					a.recs, p.recs = nil, nil
				}
				expectSame(t, tc.name, p, a)
			})
		}

		t.Run("fetch of an unknown SID (20404)", func(t *testing.T) {
			sid := sdkSID("SM")
			p, a := g.both(t, func(c *twilio.RestClient) sdkResult { return g.fetchMessage(t, c, sid) })
			for _, r := range []sdkResult{p, a} {
				wantRestError(t, r, 404, 20404)
			}
			expectSame(t, "fetch of an unknown SID", p, a)
		})
	})

	t.Run("the SDK spoke HTTP/2 both ways", func(t *testing.T) {
		st.protoMu.Lock()
		defer st.protoMu.Unlock()
		for _, side := range []string{"proxy", "adapter"} {
			if n := st.protos[side]; len(n) != 1 || n["HTTP/2.0"] == 0 {
				t.Errorf("%s: answers by protocol %v, want HTTP/2.0 only", side, n)
			}
		}
		t.Logf("answers by protocol: %v", st.protos)
	})
}

// sdkFrom is Twilio's magic valid sender (test credentials and simulator).
const sdkFrom = "+15005550006"

// sdkBody is a fresh OTP message (registered, so that the log scan looks for it).
func sdkBody(t testing.TB) string {
	msg, _ := newMessage(t)
	return msg
}

// sdkSID is a fresh random SID with the given prefix.
func sdkSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// sidOf is the SID of a result's resource ("" without one).
func sidOf(r sdkResult) string {
	s, _ := r.fields["sid"].(string)
	return s
}

// goSDK is one set of credentials with a Go SDK client per side.
type goSDK struct {
	st      *sdkStack
	clients map[string]*twilio.RestClient
	// current is the side the running operation goes through (both() sets it).
	current string
	mu      sync.Mutex
}

func newGoSDK(t testing.TB, st *sdkStack, user, secret string) *goSDK {
	g := &goSDK{st: st, clients: map[string]*twilio.RestClient{}}
	for _, sd := range st.sides() {
		g.clients[sd.name] = st.rest(t, sd, user, secret)
	}
	return g
}

// both runs op through the proxy, then through the adapter, and attaches to
// each result what reached the simulator meanwhile.
func (g *goSDK) both(t testing.TB, op func(c *twilio.RestClient) sdkResult) (proxy, adapter sdkResult) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	var out [2]sdkResult
	for i, sd := range g.st.sides() {
		g.current = sd.name
		from := g.st.mark(t)
		r := op(g.clients[sd.name])
		r.side = sd.name
		r.recs = g.st.recordsFrom(t, from)
		if r.subst == nil {
			r.subst = map[string]string{}
		}
		out[i] = r
	}
	return out[0], out[1]
}

// createMessage is CreateMessageWithMetadata as a result.
func (g *goSDK) createMessage(t testing.TB, c *twilio.RestClient, p *api.CreateMessageParams) sdkResult {
	r := sdkResult{}
	m, err := c.Api.CreateMessageWithMetadata(p)
	r.err = err
	if err == nil {
		msg := m.GetResource()
		r.fields, r.status, r.header = toFields(t, msg), m.GetStatusCode(), m.GetHeaders()
		r.subst = map[string]string{deref(msg.Sid): "<sid>"}
	}
	return r
}

// createCall is CreateCallWithMetadata as a result.
func (g *goSDK) createCall(t testing.TB, c *twilio.RestClient, p *api.CreateCallParams) sdkResult {
	r := sdkResult{}
	m, err := c.Api.CreateCallWithMetadata(p)
	r.err = err
	if err == nil {
		call := m.GetResource()
		r.fields, r.status, r.header = toFields(t, call), m.GetStatusCode(), m.GetHeaders()
		r.subst = map[string]string{deref(call.Sid): "<sid>"}
	}
	return r
}

func (g *goSDK) fetchMessage(t testing.TB, c *twilio.RestClient, sid string) sdkResult {
	r := sdkResult{subst: map[string]string{sid: "<sid>"}}
	m, err := c.Api.FetchMessageWithMetadata(sid, nil)
	r.err = err
	if err == nil {
		r.fields, r.status, r.header = toFields(t, m.GetResource()), m.GetStatusCode(), m.GetHeaders()
	}
	return r
}

func (g *goSDK) updateMessage(t testing.TB, c *twilio.RestClient, sid string, p *api.UpdateMessageParams) sdkResult {
	r := sdkResult{subst: map[string]string{sid: "<sid>"}}
	m, err := c.Api.UpdateMessageWithMetadata(sid, p)
	r.err = err
	if err == nil {
		r.fields, r.status, r.header = toFields(t, m.GetResource()), m.GetStatusCode(), m.GetHeaders()
	}
	return r
}

// wantMessage checks a message the SDK returned: no error, the SID's prefix
// and the given fields.
func wantMessage(t testing.TB, r sdkResult, prefix string, want map[string]any) {
	t.Helper()
	wantResource(t, r, prefix, 0, want)
}

func wantResource(t testing.TB, r sdkResult, prefix string, status int, want map[string]any) {
	t.Helper()
	if r.err != nil {
		t.Errorf("%s: SDK error %v", r.side, r.err)
		return
	}
	if sid := sidOf(r); !strings.HasPrefix(sid, prefix) || len(sid) != 34 {
		t.Errorf("%s: sid %q, want %s + 32 hex digits", r.side, sid, prefix)
	}
	if status != 0 && r.status != status {
		t.Errorf("%s: HTTP %d, want %d", r.side, r.status, status)
	}
	for k, v := range want {
		if got, ok := r.fields[k]; !ok && v != nil || ok && fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("%s: %s = %v, want %v", r.side, k, got, v)
		}
	}
}

// wantCreate checks that exactly one create reached Twilio, carrying exactly
// params (a call from the adapter also carries its documented TimeLimit).
func wantCreate(t testing.TB, r sdkResult, params url.Values) {
	t.Helper()
	if len(r.recs) != 1 || r.recs[0].Op != "create" {
		t.Errorf("%s: Twilio got %s, want one create", r.side, recSummary(r.recs))
		return
	}
	got := r.recs[0].Form
	for k, v := range params {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s: Twilio got %s=%q, want %q", r.side, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := params[k]; !ok {
			t.Errorf("%s: Twilio got %s=%q, which the SDK did not send", r.side, k, v)
		}
	}
}

// wantRestError checks that the SDK returned Twilio's error as its RestError.
func wantRestError(t testing.TB, r sdkResult, status, code int) {
	t.Helper()
	var e *twclient.TwilioRestError
	if !errors.As(r.err, &e) {
		t.Errorf("%s: want a *client.TwilioRestError %d/%d, got %v (%T)", r.side, status, code, r.err, r.err)
		return
	}
	if e.Status != status || e.Code != code || e.Message == "" || e.MoreInfo != fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code) {
		t.Errorf("%s: RestError %d/%d %q %q, want %d/%d with a message and Twilio's more_info", r.side, e.Status, e.Code, e.Message, e.MoreInfo, status, code)
	}
}

// callbackReceiver is the application's status-callback endpoint.
type callbackReceiver struct {
	url string
	mu  sync.Mutex
	got []receivedCallback
}

type receivedCallback struct {
	form      url.Values
	signature string
}

func startCallbackReceiver(t testing.TB) *callbackReceiver {
	cb := &callbackReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		form, _ := url.ParseQuery(string(b))
		cb.mu.Lock()
		cb.got = append(cb.got, receivedCallback{form: form, signature: r.Header.Get("X-Twilio-Signature")})
		cb.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	cb.url = srv.URL + "/twilio/status"
	return cb
}

// waitFor waits until the callback for sid with status last arrived and
// returns sid's callbacks in order.
func (cb *callbackReceiver) waitFor(t testing.TB, sid, last string, limit time.Duration) []receivedCallback {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		cb.mu.Lock()
		var mine []receivedCallback
		done := false
		for _, c := range cb.got {
			if c.form.Get("MessageSid") == sid {
				mine = append(mine, c)
				done = done || c.form.Get("MessageStatus") == last
			}
		}
		cb.mu.Unlock()
		if done || time.Now().After(deadline) {
			if !done {
				t.Errorf("no %s status callback for %s after %s (got %d)", last, sid, limit, len(mine))
			}
			return mine
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameXML reports whether two XML documents have the same elements,
// attributes and text (<Pause/> and <Pause></Pause> are the same).
func sameXML(a, b string) bool {
	toks := func(s string) ([]string, error) {
		var out []string
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			tok, err := d.Token()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			switch x := tok.(type) {
			case xml.StartElement:
				attrs := make([]string, 0, len(x.Attr))
				for _, at := range x.Attr {
					attrs = append(attrs, at.Name.Local+"="+at.Value)
				}
				slices.Sort(attrs)
				out = append(out, "<"+x.Name.Local+" "+strings.Join(attrs, " "))
			case xml.EndElement:
				out = append(out, "</"+x.Name.Local)
			case xml.CharData:
				if t := strings.TrimSpace(string(x)); t != "" {
					out = append(out, "text:"+t)
				}
			}
		}
	}
	ta, ea := toks(a)
	tb, eb := toks(b)
	return ea == nil && eb == nil && slices.Equal(ta, tb)
}
