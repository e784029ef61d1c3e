package simulator

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultMaxRecords is the ring buffer size used when Config.MaxRecords is 0 or less.
const DefaultMaxRecords = 10000

// maxBodyBytes caps the form body of every request, as Twilio does (far above any legal request).
const maxBodyBytes = 64 << 10

// Config describes the simulated Twilio tenant.
type Config struct {
	// Accounts may authenticate; everyone else gets 401 / 20003.
	Accounts []Account
	// MaxConcurrent is the per-account cap of requests in flight; beyond it the answer is
	// 429 / 20429 and the request is not processed. 0 means unlimited.
	MaxConcurrent int
	// Latency is added to every answer of the Twilio API (not of the control endpoints).
	Latency time.Duration
	// MaxRecords is the size of the ring buffers behind Records and Callbacks (default 10000).
	MaxRecords int
	// MaxStored bounds the messages and calls kept for fetch, list, update and delete
	// (default 10000); beyond it the oldest are forgotten.
	MaxStored int

	// StatusStep is the time between two statuses of a created message or call: queued →
	// sent → delivered, queued → ringing → in-progress → completed (default 100ms; tests
	// use a millisecond). Fetch and list show the status reached by now.
	StatusStep time.Duration
	// CallbackHosts lists the hosts (names or IP addresses, without port) status callbacks
	// may be posted to besides loopback (127.0.0.0/8, ::1, localhost). A StatusCallback on
	// any other host is refused: recorded in Callbacks, never requested.
	CallbackHosts []string
	// CallbackTimeout bounds each callback request (default 5s).
	CallbackTimeout time.Duration
	// MaxPendingCallbacks caps the messages and calls whose callbacks are still to be
	// posted (default 1000); a resource created beyond it gets no callbacks (recorded as
	// dropped).
	MaxPendingCallbacks int
}

// Account is one Twilio account (or subaccount).
type Account struct {
	// SID is the account SID ("AC" + 32 hex); AuthToken its auth token.
	SID, AuthToken string
	// Parent is the optional parent account SID. The parent's account SID and token may act
	// on this subaccount's 2010 resources (Messages, Calls) but not on Studio, as on Twilio.
	Parent string
	// APIKeys maps an API key SID ("SK...") to its secret. A key authenticates only for its
	// own account, never for a subaccount.
	APIKeys map[string]string
	// Senders, when set, lists the From values this account owns: any other From (other
	// than a magic test number) gets 21606 on Messages and 21210 on Calls.
	Senders []string
	// Flows, when set, lists the Studio Flow SIDs this account owns. A flow listed here can
	// be executed only with this account's own token or keys: the parent's credentials get
	// 401 / 20003, any other account's 404 / 20404. Flows listed by no account may be
	// executed by every authenticated account.
	Flows []string
}

// Simulator is an http.Handler answering like Twilio's REST API. It never logs.
type Simulator struct {
	latency       time.Duration
	maxConcurrent int64

	accounts  map[string]*account // by account SID; immutable after New
	keys      map[string]*apiKey  // by API key SID; immutable after New
	flowOwner map[string]*account // by Flow SID; immutable after New

	statusStep time.Duration

	faults   faultTable
	ring     *ring[Record]
	store    *store
	notifier *notifier

	requests, accepted, rejected atomic.Int64
}

type account struct {
	sid, token string
	parent     string
	senders    map[string]bool // nil when every From is allowed
	senderList []string        // Senders in order: the Messaging Service's pool
	stats      accountCounters
}

type apiKey struct {
	secret string
	owner  *account
}

type accountCounters struct {
	requests, accepted, rejected atomic.Int64
	inFlight, maxInFlight        atomic.Int64
}

// New builds a Simulator from cfg. The configuration is copied.
func New(cfg Config) *Simulator {
	s := &Simulator{
		latency:       cfg.Latency,
		maxConcurrent: int64(cfg.MaxConcurrent),
		accounts:      make(map[string]*account, len(cfg.Accounts)),
		keys:          make(map[string]*apiKey),
		flowOwner:     make(map[string]*account),
		statusStep:    cfg.StatusStep,
		ring:          newRing[Record](cfg.MaxRecords, Record.clone),
		store:         newStore(cfg.MaxStored),
	}
	if s.statusStep <= 0 {
		s.statusStep = DefaultStatusStep
	}
	s.notifier = newNotifier(s.store, cfg)
	for _, a := range cfg.Accounts {
		acc := &account{sid: a.SID, token: a.AuthToken, parent: a.Parent, senderList: append([]string(nil), a.Senders...)}
		if len(a.Senders) > 0 {
			acc.senders = make(map[string]bool, len(a.Senders))
			for _, from := range a.Senders {
				acc.senders[from] = true
			}
		}
		s.accounts[a.SID] = acc
		for keySID, secret := range a.APIKeys {
			s.keys[keySID] = &apiKey{secret: secret, owner: acc}
		}
		for _, flow := range a.Flows {
			s.flowOwner[flow] = acc
		}
	}
	return s
}

// exchange is one request to the simulated Twilio API on its way through the handler.
type exchange struct {
	req       *http.Request
	start     time.Time
	requestID string // Twilio-Request-Id, "RQ..."
	route     route
	acc       *account // account the request acts on, once known
	form      map[string][]string
	answer    answer
	fault     FaultMode
	committed bool // counted and recorded
}

// ServeHTTP answers the Twilio API and, under /_simulator/, the control endpoints.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.serveControl(w, r)
		return
	}
	x := &exchange{req: r, start: time.Now(), requestID: newSID("RQ"), route: matchRoute(r.Method, r.URL.Path)}
	s.requests.Add(1)
	defer s.commit(x)

	if x.route.api == "" {
		x.answer = notFound(r.URL.Path)
		if x.route.allow != "" {
			x.answer = restError(http.StatusMethodNotAllowed, 20004, "Method not allowed", "")
			x.answer.allow = x.route.allow
		}
		s.deliver(w, r, x)
		return
	}
	if !s.readForm(w, r, x) {
		s.deliver(w, r, x)
		return
	}
	var ok bool
	if x.acc, ok = s.authorize(r, x); !ok {
		s.deliver(w, r, x)
		return
	}

	st := &x.acc.stats
	st.requests.Add(1)
	inFlight := st.inFlight.Add(1)
	if s.maxConcurrent > 0 && inFlight > s.maxConcurrent {
		// Refused before any processing: it holds no slot while it is answered.
		st.inFlight.Add(-1)
		x.answer = restError(http.StatusTooManyRequests, 20429, "Too Many Requests", "")
		s.deliver(w, r, x)
		return
	}
	defer st.inFlight.Add(-1)
	raiseMax(&st.maxInFlight, inFlight)

	f, faulted := s.faults.take(x.acc.sid)
	if faulted {
		x.fault = f.Mode
		if a, replaced := f.answer(); replaced {
			x.answer = a
			s.deliver(w, r, x)
			return
		}
	}
	x.answer = s.process(x)
	if faulted {
		s.deliverFaulty(w, r, x, f)
		return
	}
	s.deliver(w, r, x)
}

// process answers a request that passed authentication, concurrency and faults.
func (s *Simulator) process(x *exchange) answer {
	switch x.route.api + "/" + x.route.op {
	case apiMessages + "/" + opCreate:
		return s.createMessage(x)
	case apiMessages + "/" + opFetch:
		return s.fetchMessage(x)
	case apiMessages + "/" + opList:
		return s.listMessages(x)
	case apiMessages + "/" + opUpdate:
		return s.updateMessage(x)
	case apiMessages + "/" + opDelete:
		return s.deleteMessage(x)
	case apiCalls + "/" + opCreate:
		return s.createCall(x)
	case apiCalls + "/" + opFetch:
		return s.fetchCall(x)
	case apiCalls + "/" + opList:
		return s.listCalls(x)
	case apiCalls + "/" + opUpdate:
		return s.updateCall(x)
	case apiCalls + "/" + opDelete:
		return s.deleteCall(x)
	case apiStudio + "/" + opCreate:
		return createExecution(x)
	}
	return notFound(x.req.URL.Path)
}

// readForm parses the url-encoded body (64 KiB at most) into x.form. Like Twilio, a body of
// another content type contributes no parameters; query parameters are ignored.
func (s *Simulator) readForm(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		msg := "Unable to parse the request body"
		status := http.StatusBadRequest
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			msg = "The request body exceeds " + strconv.Itoa(maxBodyBytes) + " bytes"
			status = http.StatusRequestEntityTooLarge
		}
		x.answer = restError(status, 20001, msg, "")
		return false
	}
	x.form = r.PostForm
	return true
}

// authorize checks the Basic credentials against the account the request acts on: the
// AccountSid of the path for the 2010 API, the credentials' own account for Studio.
func (s *Simulator) authorize(r *http.Request, x *exchange) (*account, bool) {
	user, pass, _ := r.BasicAuth()
	principal, viaKey := s.authenticate(user, pass)
	if principal == nil {
		x.answer = authError()
		return nil, false
	}
	if x.route.api == apiStudio {
		owner := s.flowOwner[x.route.flowSID]
		switch {
		case owner == nil || owner == principal:
			return principal, true
		case owner.parent == principal.sid:
			x.answer = authError()
		default:
			x.answer = notFound(r.URL.Path)
		}
		return nil, false
	}
	target := s.accounts[x.route.accountSID]
	switch {
	case target == nil:
		x.answer = notFound(r.URL.Path)
	case target == principal, !viaKey && target.parent == principal.sid:
		return target, true
	default:
		x.answer = authError()
	}
	return nil, false
}

// authenticate resolves Basic credentials to an account: an account SID with its token, or
// an API key SID with its secret. viaKey reports the latter.
func (s *Simulator) authenticate(user, pass string) (acc *account, viaKey bool) {
	if user == "" {
		return nil, false
	}
	if a := s.accounts[user]; a != nil && a.token != "" && equal(a.token, pass) {
		return a, false
	}
	if k := s.keys[user]; k != nil && k.secret != "" && equal(k.secret, pass) {
		return k.owner, true
	}
	return nil, false
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func raiseMax(max *atomic.Int64, v int64) {
	for {
		cur := max.Load()
		if v <= cur || max.CompareAndSwap(cur, v) {
			return
		}
	}
}

// commit counts the answer and appends its record, once: just before the first byte of
// the answer is written (so a client that got an answer finds it in Records), or when the
// handler returns without answering.
func (s *Simulator) commit(x *exchange) {
	if x.committed {
		return
	}
	x.committed = true
	// The record first: once the counters show the request answered, Records has it.
	s.ring.add(newRecord(x))
	if x.answer.accepted {
		s.accepted.Add(1)
	} else {
		s.rejected.Add(1)
	}
	if x.acc != nil {
		if x.answer.accepted {
			x.acc.stats.accepted.Add(1)
		} else {
			x.acc.stats.rejected.Add(1)
		}
	}
}

// wait sleeps for d unless ctx ends first; it reports whether the full delay passed.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Stats is a snapshot of the request counters. Accepted requests were answered 2xx.
type Stats struct {
	Requests   int64                   `json:"requests"`
	Accepted   int64                   `json:"accepted"`
	Rejected   int64                   `json:"rejected"`
	PerAccount map[string]AccountStats `json:"per_account"`
	Callbacks  CallbackStats           `json:"callbacks"`
}

// AccountStats counts the requests that reached one configured account (authenticated).
type AccountStats struct {
	Requests    int64 `json:"requests"`
	Accepted    int64 `json:"accepted"`
	Rejected    int64 `json:"rejected"`
	MaxInFlight int64 `json:"max_in_flight"`
	// InFlight is the number of requests being answered right now.
	InFlight int64 `json:"in_flight"`
}

// Stats returns a snapshot of the counters. Requests = Accepted + Rejected once every
// request has been answered; PerAccount has an entry for every configured account.
func (s *Simulator) Stats() Stats {
	st := Stats{
		Requests:   s.requests.Load(),
		Accepted:   s.accepted.Load(),
		Rejected:   s.rejected.Load(),
		PerAccount: make(map[string]AccountStats, len(s.accounts)),
		Callbacks:  s.notifier.stats(),
	}
	for sid, a := range s.accounts {
		st.PerAccount[sid] = AccountStats{
			Requests:    a.stats.requests.Load(),
			Accepted:    a.stats.accepted.Load(),
			Rejected:    a.stats.rejected.Load(),
			MaxInFlight: a.stats.maxInFlight.Load(),
			InFlight:    a.stats.inFlight.Load(),
		}
	}
	return st
}

// Records returns copies of the recorded requests, oldest first.
func (s *Simulator) Records() []Record {
	return s.ring.snapshot()
}

// Callbacks returns copies of the status callbacks posted (or refused, dropped), oldest
// first.
func (s *Simulator) Callbacks() []Callback {
	return s.notifier.log.snapshot()
}

// Close stops posting status callbacks and waits for the ones in flight (each bounded by
// CallbackTimeout). The API keeps answering; resources created afterwards get no
// callbacks. Call it when the simulator is no longer used.
func (s *Simulator) Close() {
	s.notifier.close()
}

// Reset clears the records, the counters, the faults, the stored messages and calls and
// the callbacks (pending ones are abandoned). Requests in flight stay counted in InFlight
// until they are answered.
func (s *Simulator) Reset() {
	s.notifier.restart()
	s.store.clear()
	s.ring.clear()
	s.faults.clear()
	s.requests.Store(0)
	s.accepted.Store(0)
	s.rejected.Store(0)
	for _, a := range s.accounts {
		a.stats.requests.Store(0)
		a.stats.accepted.Store(0)
		a.stats.rejected.Store(0)
		a.stats.maxInFlight.Store(0)
	}
}

// Interface guard.
var _ http.Handler = (*Simulator)(nil)
