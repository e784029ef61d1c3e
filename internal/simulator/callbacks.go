package simulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// Defaults of the status callbacks.
const (
	// DefaultCallbackTimeout bounds each callback request when Config.CallbackTimeout is
	// 0 or less (Twilio allows 15 s).
	DefaultCallbackTimeout = 5 * time.Second
	// DefaultMaxPendingCallbacks caps the resources with callbacks still to post when
	// Config.MaxPendingCallbacks is 0 or less.
	DefaultMaxPendingCallbacks = 1000
	// callbackUserAgent is what Twilio's webhook requests say they are.
	callbackUserAgent = "TwilioProxy/1.1"
	// maxCallbackAnswer is how much of a callback's answer is read (and dropped).
	maxCallbackAnswer = 64 << 10
)

// Callback is one status callback the simulator posted, or chose not to post (Error says
// why).
type Callback struct {
	Time       time.Time   `json:"time"`
	API        string      `json:"api"` // "messages" | "calls"
	AccountSID string      `json:"account_sid"`
	Sid        string      `json:"sid"`    // the message or call
	Status     string      `json:"status"` // MessageStatus or CallStatus posted
	Method     string      `json:"method"`
	URL        string      `json:"url"` // as requested (GET: with the parameters)
	Params     url.Values  `json:"params"`
	Header     http.Header `json:"header"` // X-Twilio-Signature, I-Twilio-Idempotency-Token, ...
	// Response is the receiver's HTTP status, 0 when it did not answer.
	Response int `json:"response"`
	// Error is set when the callback was refused (host not allowed), dropped (too many
	// pending) or failed (no answer); a non-2xx answer is not an error.
	Error string `json:"error,omitempty"`
}

func (c Callback) clone() Callback {
	c.Params = cloneValues(c.Params)
	c.Header = c.Header.Clone()
	return c
}

// CallbackStats counts the status callbacks.
type CallbackStats struct {
	// Posted callbacks got an answer (any status); Failed ones did not.
	Posted int64 `json:"posted"`
	Failed int64 `json:"failed"`
	// Refused resources had a StatusCallback on a host that is not allowed; Dropped ones
	// came when MaxPendingCallbacks resources were already waiting. Nothing was posted.
	Refused int64 `json:"refused"`
	Dropped int64 `json:"dropped"`
	// Pending is the number of resources with callbacks still to post.
	Pending int64 `json:"pending"`
}

// callbackSource is a message or call whose callbacks a sequence posts. Its methods are
// called with the store's lock held.
type callbackSource interface {
	timeline() []step
	// callbackParams returns the parameters of step i's callback and whether it is
	// posted; sequence counts the callbacks posted before.
	callbackParams(i, sequence int) (url.Values, bool)
	setSequence(*sequence)
}

// sequence posts the callbacks of one resource, each when its step begins.
type sequence struct {
	src              callbackSource
	api, account, id string
	token            string
	url, method      string
	next             int           // the step to post next
	posted           int           // callbacks posted so far
	wake             chan struct{} // the resource's steps changed
}

// notifier posts status callbacks: one goroutine per resource with a StatusCallback, at
// most max at a time, stopped by Reset and Close.
type notifier struct {
	store   *store
	timeout time.Duration
	max     int
	hosts   map[string]bool // allowed besides loopback
	client  *http.Client
	log     *ring[Callback]

	mu      sync.Mutex
	gen     *generation
	closed  bool
	pending atomic.Int64

	posted, failed, refused, dropped atomic.Int64
}

// generation is the set of sequences started since the last Reset.
type generation struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newGeneration() *generation {
	g := &generation{}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g
}

func newNotifier(st *store, cfg Config) *notifier {
	n := &notifier{
		store:   st,
		timeout: cfg.CallbackTimeout,
		max:     cfg.MaxPendingCallbacks,
		hosts:   make(map[string]bool, len(cfg.CallbackHosts)),
		log:     newRing[Callback](cfg.MaxRecords, Callback.clone),
		gen:     newGeneration(),
	}
	if n.timeout <= 0 {
		n.timeout = DefaultCallbackTimeout
	}
	if n.max <= 0 {
		n.max = DefaultMaxPendingCallbacks
	}
	for _, h := range cfg.CallbackHosts {
		n.hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	n.client = &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // never through a proxy: the host checks would mean nothing
			DialContext:         n.dial,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		// Twilio's status callbacks do not follow redirects to other hosts; the simulator
		// follows none.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return n
}

// allowed reports whether callbacks may go to host: loopback (127.0.0.0/8, ::1,
// localhost) or one of Config.CallbackHosts.
func (n *notifier) allowed(host string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if n.hosts[host] || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dial connects to an allowed host. A host that is allowed only as loopback must resolve
// to loopback addresses, so a name cannot lead the simulator off the machine.
func (n *notifier) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if n.hosts[strings.ToLower(host)] {
		return d.DialContext(ctx, network, addr)
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return nil, fmt.Errorf("callback host %s resolves to %s, which is not loopback", host, ip.IP)
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("callback host %s does not resolve", host)
	}
	return d.DialContext(ctx, network, net.JoinHostPort(ips[0].IP.String(), port))
}

// start plans the callbacks of a new resource from step first on. The caller holds no
// lock; the resource is already in the store.
func (n *notifier) start(src callbackSource, acc *account, rawURL, method string, first int) {
	api, id := apiMessages, ""
	switch r := src.(type) {
	case *message:
		id = r.sid
	case *call:
		api, id = apiCalls, r.sid
	}
	target, _, _ := strings.Cut(rawURL, "#") // connection overrides (#rc=..) are not part of the URL
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		n.refused.Add(1)
		n.log.add(Callback{Time: time.Now(), API: api, AccountSID: acc.sid, Sid: id, Method: method, URL: rawURL,
			Error: "refused: not an absolute http(s) URL"})
		return
	}
	if !n.allowed(u.Hostname()) {
		n.refused.Add(1)
		n.log.add(Callback{Time: time.Now(), API: api, AccountSID: acc.sid, Sid: id, Method: method, URL: rawURL,
			Error: "refused: host " + u.Hostname() + " is neither loopback nor in CallbackHosts"})
		return
	}
	n.mu.Lock()
	if n.closed || n.pending.Load() >= int64(n.max) {
		closed := n.closed
		n.mu.Unlock()
		if !closed {
			n.dropped.Add(1)
			n.log.add(Callback{Time: time.Now(), API: api, AccountSID: acc.sid, Sid: id, Method: method, URL: rawURL,
				Error: "dropped: " + strconv.Itoa(n.max) + " resources already wait for callbacks (MaxPendingCallbacks)"})
		}
		return
	}
	seq := &sequence{src: src, api: api, account: acc.sid, id: id, token: acc.token, url: target, method: method,
		next: first, wake: make(chan struct{}, 1)}
	g := n.gen
	g.wg.Add(1)
	n.pending.Add(1)
	n.mu.Unlock()

	n.store.mu.Lock()
	src.setSequence(seq)
	n.store.mu.Unlock()
	go n.run(g, seq)
}

// wake tells a resource's sequence that its steps changed. The caller may hold the
// store's lock.
func (n *notifier) wake(seq *sequence) {
	if seq == nil {
		return
	}
	select {
	case seq.wake <- struct{}{}:
	default:
	}
}

// run posts the callbacks of one resource, each once its step has begun, in order.
func (n *notifier) run(g *generation, seq *sequence) {
	defer g.wg.Done()
	defer n.pending.Add(-1)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.store.mu.RLock()
		steps := seq.src.timeline()
		n.store.mu.RUnlock()
		if seq.next >= len(steps) {
			return
		}
		st := steps[seq.next]
		if d := time.Until(st.at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-seq.wake:
				timer.Stop()
				continue
			case <-g.ctx.Done():
				return
			}
		}
		// The steps may have changed while waiting (a cancel replaces them).
		n.store.mu.RLock()
		steps = seq.src.timeline()
		valid := seq.next < len(steps) && steps[seq.next] == st
		var params url.Values
		post := false
		if valid {
			params, post = seq.src.callbackParams(seq.next, seq.posted)
		}
		n.store.mu.RUnlock()
		if !valid {
			continue
		}
		seq.next++
		if post {
			seq.posted++
			n.post(g.ctx, seq, st.status, params)
		}
	}
}

// post sends one callback, signed as Twilio signs it, and records it.
func (n *notifier) post(ctx context.Context, seq *sequence, status string, params url.Values) {
	cb := Callback{Time: time.Now(), API: seq.api, AccountSID: seq.account, Sid: seq.id, Status: status,
		Method: seq.method, URL: seq.url, Params: params, Header: make(http.Header)}
	var body io.Reader
	signed := twilioapi.Signature(seq.token, seq.url, params)
	if seq.method == http.MethodGet {
		sep := "?"
		if strings.Contains(seq.url, "?") {
			sep = "&"
		}
		cb.URL = seq.url + sep + params.Encode()
		signed = twilioapi.Signature(seq.token, cb.URL, nil)
	} else {
		body = strings.NewReader(params.Encode())
		cb.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	cb.Header.Set(twilioapi.SignatureHeader, signed)
	cb.Header.Set("I-Twilio-Idempotency-Token", idempotencyToken())
	cb.Header.Set("User-Agent", callbackUserAgent)

	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, seq.method, cb.URL, body)
	if err == nil {
		req.Header = cb.Header.Clone()
		var resp *http.Response
		if resp, err = n.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCallbackAnswer))
			resp.Body.Close()
			cb.Response = resp.StatusCode
		}
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = errors.New("simulator reset or closed")
		}
		cb.Error = "failed: " + err.Error()
		n.failed.Add(1)
	} else {
		n.posted.Add(1)
	}
	n.log.add(cb)
}

// idempotencyToken is a fresh I-Twilio-Idempotency-Token: Twilio sends the same one on
// its retries of a webhook, which the simulator does not make.
func idempotencyToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// restart stops every sequence and waits for them, then lets new ones start (Reset).
func (n *notifier) restart() {
	n.mu.Lock()
	old := n.gen
	n.gen = newGeneration()
	n.mu.Unlock()
	old.cancel()
	old.wg.Wait()
	n.log.clear()
	n.posted.Store(0)
	n.failed.Store(0)
	n.refused.Store(0)
	n.dropped.Store(0)
}

// close stops every sequence for good and waits for them.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	g := n.gen
	n.mu.Unlock()
	g.cancel()
	g.wg.Wait()
	n.client.CloseIdleConnections()
}

func (n *notifier) stats() CallbackStats {
	return CallbackStats{
		Posted: n.posted.Load(), Failed: n.failed.Load(), Refused: n.refused.Load(),
		Dropped: n.dropped.Load(), Pending: n.pending.Load(),
	}
}
