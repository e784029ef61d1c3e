package simulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

func TestRecords(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxRecords = 3
	srv, sim := start(t, cfg)
	var sids []string
	for i := 1; i <= 5; i++ {
		req := newRequest(t, srv.URL+messagesPath(mainSID, ".json"), mainSID, mainToken,
			url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strconv.Itoa(i)}})
		req.Header.Set("User-Agent", "adapter-test/1")
		req.Header.Set("Idempotency-Key", "key-"+strconv.Itoa(i))
		req.Header.Set("X-Idempotency-Key", "x-key")
		req.Header.Set("X-Other", "not recorded")
		r := do(t, srv.Client(), req)
		sids = append(sids, decodeJSON(t, r.body)["sid"].(string))
	}

	recs := sim.Records()
	if len(recs) != 3 {
		t.Fatalf("%d records, want the last 3", len(recs))
	}
	for i, rec := range recs {
		n := i + 3
		want := simulator.Record{
			Time: rec.Time, API: "messages", Op: "create", Method: "POST", Path: messagesPath(mainSID, ".json"),
			AccountSID: mainSID, AuthUser: mainSID,
			Form: url.Values{"To": {toOK}, "From": {fromOK}, "Body": {strconv.Itoa(n)}},
			Header: http.Header{
				"Content-Type":      {"application/x-www-form-urlencoded"},
				"User-Agent":        {"adapter-test/1"},
				"Idempotency-Key":   {"key-" + strconv.Itoa(n)},
				"X-Idempotency-Key": {"x-key"},
			},
			Status: 201, Sid: sids[n-1], Accepted: true,
		}
		if !reflect.DeepEqual(rec, want) {
			t.Errorf("record %d\n got %+v\nwant %+v", i, rec, want)
		}
		if time.Since(rec.Time) > time.Minute {
			t.Errorf("record %d: time %v", i, rec.Time)
		}
	}

	// Records are copies.
	recs[0].Form.Set("Body", "changed")
	recs[0].Header.Set("User-Agent", "changed")
	if again := sim.Records(); again[0].Form.Get("Body") != "3" || again[0].Header.Get("User-Agent") != "adapter-test/1" {
		t.Errorf("changing a returned record changed the simulator's: %+v", again[0])
	}
}

func TestRecordFields(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	post(t, srv, executionsPath(subFlow), subKey, subKeySecret, url.Values{"To": {toOK}, "From": {fromOK}})
	post(t, srv, callsPath(subSID, ""), mainSID, mainToken, url.Values{"To": {toOK}})
	post(t, srv, "/nope", "", "", nil)
	recs := sim.Records()
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	got := []string{recs[0].API, recs[0].AccountSID, recs[0].AuthUser, recs[0].FlowSID, strconv.Itoa(recs[0].Status),
		recs[1].API, recs[1].AccountSID, recs[1].AuthUser, strconv.Itoa(recs[1].Status), strconv.Itoa(recs[1].Code),
		recs[2].API, strconv.Itoa(recs[2].Status), strconv.Itoa(recs[2].Code)}
	want := []string{"studio", subSID, subKey, subFlow, "201",
		"calls", subSID, mainSID, "400", "21213",
		"", "404", "20404"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("records\n got %q\nwant %q", got, want)
	}
}

func TestStatsAndReset(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage)
	post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, url.Values{"To": {toOK}})
	post(t, srv, messagesPath(subSID, ".json"), mainSID, mainToken, okMessage)
	post(t, srv, messagesPath(mainSID, ".json"), mainSID, "nope", okMessage)
	post(t, srv, "/nope", "", "", nil)

	st := sim.Stats()
	want := simulator.Stats{Requests: 5, Accepted: 2, Rejected: 3, PerAccount: map[string]simulator.AccountStats{
		mainSID:  {Requests: 2, Accepted: 1, Rejected: 1, MaxInFlight: 1},
		subSID:   {Requests: 1, Accepted: 1, MaxInFlight: 1},
		otherSID: {},
	}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}

	sim.SetFault("", simulator.Fault{Mode: simulator.Fault5xx})
	sim.Reset()
	if recs := sim.Records(); len(recs) != 0 {
		t.Errorf("%d records after Reset", len(recs))
	}
	want = simulator.Stats{PerAccount: map[string]simulator.AccountStats{mainSID: {}, subSID: {}, otherSID: {}}}
	if st := sim.Stats(); !reflect.DeepEqual(st, want) {
		t.Errorf("stats after Reset %+v", st)
	}
	if r := post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage); r.status != 201 {
		t.Errorf("status %d after Reset, want 201 (faults cleared)", r.status)
	}
}

func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	srv, sim := start(t, testConfig())
	control := func(method, path string, form url.Values) reply {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, srv.Client(), req)
	}
	send := func() reply {
		t.Helper()
		return post(t, srv, messagesPath(mainSID, ".json"), mainSID, mainToken, okMessage)
	}

	// A fault for one request.
	if r := control("POST", "/_simulator/fault", url.Values{"account": {mainSID}, "mode": {"code"}, "code": {"21611"}, "status": {"400"}, "count": {"1"}}); r.status != 204 {
		t.Fatalf("POST fault: %d %s", r.status, r.body)
	}
	if r := send(); r.status != 400 || parseError(t, true, r).Code != 21611 {
		t.Errorf("with the fault: %d %s", r.status, r.body)
	}
	if r := send(); r.status != 201 {
		t.Errorf("after the fault ran out: %d", r.status)
	}

	// A slow fault with a Go duration.
	control("POST", "/_simulator/fault", url.Values{"mode": {"slow"}, "delay": {"80ms"}, "count": {"1"}})
	began := time.Now()
	if r := send(); r.status != 201 || time.Since(began) < 80*time.Millisecond {
		t.Errorf("slow fault: %d after %v", r.status, time.Since(began))
	}

	// Removing and clearing.
	control("POST", "/_simulator/fault", url.Values{"mode": {"503"}})
	control("POST", "/_simulator/fault", url.Values{"mode": {"none"}})
	if r := send(); r.status != 201 {
		t.Errorf("after mode=none: %d", r.status)
	}
	control("POST", "/_simulator/fault", url.Values{"account": {mainSID}, "mode": {"503"}})
	if r := control("DELETE", "/_simulator/fault", nil); r.status != 204 {
		t.Errorf("DELETE fault: %d", r.status)
	}
	if r := send(); r.status != 201 {
		t.Errorf("after DELETE fault: %d", r.status)
	}

	// Records and stats as JSON, matching the Go API.
	r := control("GET", "/_simulator/records", nil)
	var recs []simulator.Record
	if err := json.Unmarshal(r.body, &recs); err != nil || r.status != 200 {
		t.Fatalf("GET records: %d %v", r.status, err)
	}
	if direct := sim.Records(); len(recs) != 5 || !reflect.DeepEqual(recs[4].Form, direct[4].Form) || recs[4].Sid != direct[4].Sid {
		t.Errorf("GET records: %d records, want 5 matching Records()", len(recs))
	}
	r = control("GET", "/_simulator/stats", nil)
	var st simulator.Stats
	if err := json.Unmarshal(r.body, &st); err != nil || r.status != 200 {
		t.Fatalf("GET stats: %d %v", r.status, err)
	}
	if !reflect.DeepEqual(st, sim.Stats()) || st.Requests != 5 {
		t.Errorf("GET stats %+v, want %+v", st, sim.Stats())
	}

	// Reset.
	if r := control("POST", "/_simulator/reset", nil); r.status != 204 {
		t.Errorf("POST reset: %d", r.status)
	}
	if n := len(sim.Records()); n != 0 {
		t.Errorf("%d records after reset", n)
	}

	// Bad input names the field.
	bad := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"unknown mode", url.Values{"mode": {"explode"}}, "mode"},
		{"bad count", url.Values{"mode": {"429"}, "count": {"x"}}, "count"},
		{"negative count", url.Values{"mode": {"429"}, "count": {"-1"}}, "count"},
		{"bad delay", url.Values{"mode": {"slow"}, "delay": {"5"}}, "delay"},
		{"bad code", url.Values{"mode": {"code"}, "code": {"abc"}}, "code"},
		{"bad status", url.Values{"mode": {"code"}, "status": {"999"}}, "status"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := control("POST", "/_simulator/fault", tc.form)
			var e struct{ Error string }
			_ = json.Unmarshal(r.body, &e)
			if r.status != 400 || !strings.Contains(e.Error, "field "+tc.field) {
				t.Errorf("%d %s: want 400 naming field %s", r.status, r.body, tc.field)
			}
		})
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/_simulator/reset", 405},
		{"POST", "/_simulator/records", 405},
		{"GET", "/_simulator/fault", 405},
		{"GET", "/_simulator/nope", 404},
	} {
		if r := control(tc.method, tc.path, nil); r.status != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, r.status, tc.status)
		}
	}
	if st := sim.Stats(); st.Requests != 0 {
		t.Errorf("control requests were counted: %+v", st)
	}
}
