package simulator

import (
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Record is one request the Twilio API part of the simulator answered.
type Record struct {
	Time       time.Time   `json:"time"`
	API        string      `json:"api"` // "messages" | "calls" | "studio" | "" (no such operation)
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	AccountSID string      `json:"account_sid"` // from the path (2010 API) or the credentials (Studio)
	AuthUser   string      `json:"auth_user"`   // Basic auth user name, never the password
	FlowSID    string      `json:"flow_sid"`
	Form       url.Values  `json:"form"`
	Header     http.Header `json:"header"` // recordedHeaders, when present
	Status     int         `json:"status"`
	Code       int         `json:"code"` // Twilio error code, 0 on success
	Sid        string      `json:"sid"`  // SID of the created resource
	Accepted   bool        `json:"accepted"`
	Fault      FaultMode   `json:"fault"` // fault applied to the request, if any
}

// recordedHeaders are copied into Record.Header.
var recordedHeaders = []string{"Content-Type", "User-Agent", "Idempotency-Key", "X-Idempotency-Key", "I-Twilio-Idempotency-Token"}

func newRecord(x *exchange) Record {
	r := x.req
	user, _, _ := r.BasicAuth()
	rec := Record{
		Time:       x.start,
		API:        x.route.api,
		Method:     r.Method,
		Path:       r.URL.Path,
		AccountSID: x.route.accountSID,
		AuthUser:   user,
		FlowSID:    x.route.flowSID,
		Form:       url.Values(x.form),
		Header:     make(http.Header),
		Status:     x.answer.status,
		Code:       x.answer.code,
		Sid:        x.answer.sid,
		Accepted:   x.answer.accepted,
		Fault:      x.fault,
	}
	if rec.API == apiStudio && x.acc != nil {
		rec.AccountSID = x.acc.sid
	}
	for _, k := range recordedHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			rec.Header[k] = append([]string(nil), v...)
		}
	}
	return rec
}

func (r Record) clone() Record {
	r.Form = cloneValues(r.Form)
	r.Header = r.Header.Clone()
	return r
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// ring keeps the last size records. It grows up to size, then overwrites the oldest.
type ring struct {
	mu   sync.Mutex
	size int
	buf  []Record
	next int // index of the oldest record once buf is full
}

func newRing(size int) *ring {
	if size <= 0 {
		size = DefaultMaxRecords
	}
	return &ring{size: size}
}

func (g *ring) add(r Record) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) < g.size {
		g.buf = append(g.buf, r)
		return
	}
	g.buf[g.next] = r
	g.next = (g.next + 1) % g.size
}

func (g *ring) snapshot() []Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Record, 0, len(g.buf))
	for _, r := range g.buf[g.next:] {
		out = append(out, r.clone())
	}
	for _, r := range g.buf[:g.next] {
		out = append(out, r.clone())
	}
	return out
}

func (g *ring) clear() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf, g.next = nil, 0
}
