package simulator

import (
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// Record is one request the Twilio API part of the simulator answered.
type Record struct {
	Time time.Time `json:"time"`
	API  string    `json:"api"` // "messages" | "calls" | "studio" | "" (no such operation)
	// Op is "create", "fetch", "list", "update" or "delete" ("" with no API).
	Op         string      `json:"op,omitempty"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	AccountSID string      `json:"account_sid"` // from the path (2010 API) or the credentials (Studio)
	AuthUser   string      `json:"auth_user"`   // Basic auth user name, never the password
	FlowSID    string      `json:"flow_sid"`
	Form       url.Values  `json:"form"`            // every form parameter received, as received
	Query      url.Values  `json:"query,omitempty"` // the query parameters (list filters), if any
	Header     http.Header `json:"header"`          // recordedHeaders, when present
	// Ignored lists, sorted, the parameters (form, or query for a list) that Twilio's
	// OpenAPI does not define for the operation: Twilio ignores them.
	Ignored  []string  `json:"ignored,omitempty"`
	Status   int       `json:"status"`
	Code     int       `json:"code"`     // Twilio error code, 0 on success
	Sid      string    `json:"sid"`      // SID of the created, fetched, updated or deleted resource
	Accepted bool      `json:"accepted"` // answered 2xx
	Fault    FaultMode `json:"fault"`    // fault applied to the request, if any
}

// recordedHeaders are copied into Record.Header.
var recordedHeaders = []string{"Content-Type", "User-Agent", "Idempotency-Key", "X-Idempotency-Key", "I-Twilio-Idempotency-Token"}

func newRecord(x *exchange) Record {
	r := x.req
	user, _, _ := r.BasicAuth()
	rec := Record{
		Time:       x.start,
		API:        x.route.api,
		Op:         x.route.op,
		Method:     r.Method,
		Path:       r.URL.Path,
		AccountSID: x.route.accountSID,
		AuthUser:   user,
		FlowSID:    x.route.flowSID,
		Form:       url.Values(x.form),
		Header:     make(http.Header),
		Ignored:    ignored(x),
		Status:     x.answer.status,
		Code:       x.answer.code,
		Sid:        x.answer.sid,
		Accepted:   x.answer.accepted,
		Fault:      x.fault,
	}
	if q := r.URL.Query(); len(q) > 0 {
		rec.Query = q
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
	r.Query = cloneValues(r.Query)
	r.Header = r.Header.Clone()
	r.Ignored = slices.Clone(r.Ignored)
	return r
}

// known tells, per API and operation, which parameters Twilio's OpenAPI defines.
var known = map[string]func(string) bool{
	apiMessages + "/" + opCreate: twilioapi.IsMessageCreateParam,
	apiMessages + "/" + opUpdate: twilioapi.IsMessageUpdateParam,
	apiMessages + "/" + opList:   twilioapi.IsMessageListParam,
	apiCalls + "/" + opCreate:    twilioapi.IsCallCreateParam,
	apiCalls + "/" + opUpdate:    twilioapi.IsCallUpdateParam,
	apiCalls + "/" + opList:      twilioapi.IsCallListParam,
}

// ignored lists the parameters of x the operation does not define.
func ignored(x *exchange) []string {
	is := known[x.route.api+"/"+x.route.op]
	if is == nil {
		return nil
	}
	params := x.form
	if x.route.op == opList {
		params = x.req.URL.Query()
	}
	var out []string
	for name := range params {
		if !is(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
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

// ring keeps the last size entries. It grows up to size, then overwrites the oldest.
type ring[T any] struct {
	mu    sync.Mutex
	size  int
	buf   []T
	next  int // index of the oldest entry once buf is full
	clone func(T) T
}

func newRing[T any](size int, clone func(T) T) *ring[T] {
	if size <= 0 {
		size = DefaultMaxRecords
	}
	return &ring[T]{size: size, clone: clone}
}

func (g *ring[T]) add(r T) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.buf) < g.size {
		g.buf = append(g.buf, r)
		return
	}
	g.buf[g.next] = r
	g.next = (g.next + 1) % g.size
}

// snapshot returns copies of the entries, oldest first.
func (g *ring[T]) snapshot() []T {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]T, 0, len(g.buf))
	for _, r := range g.buf[g.next:] {
		out = append(out, g.clone(r))
	}
	for _, r := range g.buf[:g.next] {
		out = append(out, g.clone(r))
	}
	return out
}

func (g *ring[T]) clear() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf, g.next = nil, 0
}
