package delivery

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AllowList is receipt_hosts: the hosts receipts may go to. An entry is a
// host name or IP address without scheme or port, matched case-insensitively;
// "*.example.com" matches every subdomain of example.com (not example.com
// itself). The zero AllowList allows nothing.
type AllowList struct {
	exact    map[string]bool
	suffixes []string // ".example.com"
}

// NewAllowList checks and compiles receipt_hosts.
func NewAllowList(hosts []string) (AllowList, error) {
	a := AllowList{exact: make(map[string]bool, len(hosts))}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		wild := strings.HasPrefix(h, "*.")
		name := strings.TrimPrefix(h, "*.")
		if ip := net.ParseIP(strings.Trim(name, "[]")); ip != nil && !wild {
			a.exact[ip.String()] = true
			continue
		}
		if name == "" || strings.ContainsAny(name, "/:@?#*[] ") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			return AllowList{}, errors.New("receipt_hosts: " + h + " is not a host name (no scheme, port or path; *.example.com for subdomains)")
		}
		if wild {
			a.suffixes = append(a.suffixes, "."+name)
		} else {
			a.exact[name] = true
		}
	}
	return a, nil
}

// Allowed reports whether rawURL is an absolute http or https URL whose host
// is allowed. Check it when a request names a receipt target, so that a
// target that will never be called is refused at once.
func (a AllowList) Allowed(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return a.exact[ip.String()]
	}
	if a.exact[host] {
		return true
	}
	for _, s := range a.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// Forwarder defaults.
const (
	DefaultReceiptTimeout  = 5 * time.Second
	DefaultReceiptAttempts = 3
	DefaultReceiptBackoff  = time.Second
	DefaultReceiptWorkers  = 4
	DefaultReceiptQueue    = 1000
)

// ForwarderConfig configures a Forwarder; zero values take the defaults.
type ForwarderConfig struct {
	// Hosts is receipt_hosts (see AllowList).
	Hosts []string
	// Client sends the receipts (nil: a client of its own that follows no
	// redirect and uses no proxy). A given client should not follow
	// redirects either: a redirect could leave the allowed hosts.
	Client *http.Client
	// Timeout bounds each attempt (DefaultReceiptTimeout).
	Timeout time.Duration
	// Attempts is the most attempts per receipt (DefaultReceiptAttempts).
	Attempts int
	// Backoff is the pause after the first failed attempt, doubled after
	// each (DefaultReceiptBackoff).
	Backoff time.Duration
	// Workers is the most receipts sent at once (DefaultReceiptWorkers).
	Workers int
	// Queue is the most receipts waiting (DefaultReceiptQueue); beyond it a
	// receipt is dropped, never waited for.
	Queue int
	// Observer counts the receipts (nil: none).
	Observer Observer
	// Route labels the queue gauge (the forwarder's route).
	Route string
}

// Forwarder sends receipts to callers from a bounded queue, with a bounded
// number of workers, attempts and time per attempt, only to allowed hosts.
// Enqueue never blocks: nothing a caller waits for waits on a receipt.
type Forwarder struct {
	allow    AllowList
	client   *http.Client
	timeout  time.Duration
	attempts int
	backoff  time.Duration
	obs      Observer
	route    string

	queue   chan *Receipt
	pending atomic.Int64
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.RWMutex
	stopped bool
}

// NewForwarder starts a forwarder's workers. Stop them with Stop.
func NewForwarder(cfg ForwarderConfig) (*Forwarder, error) {
	allow, err := NewAllowList(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{
		allow:    allow,
		client:   cfg.Client,
		timeout:  orDuration(cfg.Timeout, DefaultReceiptTimeout),
		attempts: orInt(cfg.Attempts, DefaultReceiptAttempts),
		backoff:  orDuration(cfg.Backoff, DefaultReceiptBackoff),
		obs:      cfg.Observer,
		route:    cfg.Route,
		queue:    make(chan *Receipt, orInt(cfg.Queue, DefaultReceiptQueue)),
	}
	if f.obs == nil {
		f.obs = NopObserver{}
	}
	if f.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		tr.MaxIdleConnsPerHost = 4
		f.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	for range orInt(cfg.Workers, DefaultReceiptWorkers) {
		f.wg.Add(1)
		go f.work()
	}
	return f, nil
}

// Allowed reports whether rawURL's host is in receipt_hosts.
func (f *Forwarder) Allowed(rawURL string) bool { return f.allow.Allowed(rawURL) }

// Enqueue queues r and reports whether it was queued: false (and counted)
// when its host is not allowed, the queue is full or the forwarder stopped.
func (f *Forwarder) Enqueue(r *Receipt) bool {
	if !f.allow.Allowed(r.URL) {
		f.obs.Receipt(r.Route, r.Dialect, "refused")
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.stopped {
		f.obs.Receipt(r.Route, r.Dialect, "dropped")
		return false
	}
	select {
	case f.queue <- r:
		f.obs.ReceiptQueue(f.route, int(f.pending.Add(1)))
		return true
	default:
		f.obs.Receipt(r.Route, r.Dialect, "dropped")
		return false
	}
}

// Len is the number of receipts waiting or being sent.
func (f *Forwarder) Len() int { return int(f.pending.Load()) }

// Stop stops the workers: attempts in progress are abandoned, receipts still
// queued are dropped (and counted). It returns when every worker has ended.
func (f *Forwarder) Stop() {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return
	}
	f.stopped = true
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
	for {
		select {
		case r := <-f.queue:
			f.obs.Receipt(r.Route, r.Dialect, "dropped")
			f.obs.ReceiptQueue(f.route, int(f.pending.Add(-1)))
		default:
			return
		}
	}
}

func (f *Forwarder) work() {
	defer f.wg.Done()
	for {
		select {
		case <-f.ctx.Done():
			return
		case r := <-f.queue:
			result := f.send(r)
			f.obs.Receipt(r.Route, r.Dialect, result)
			f.obs.ReceiptQueue(f.route, int(f.pending.Add(-1)))
		}
	}
}

// send tries r up to the attempt limit and returns the Receipt result.
func (f *Forwarder) send(r *Receipt) string {
	pause := f.backoff
	for attempt := 1; ; attempt++ {
		status, ok := f.try(r)
		if ok {
			return "delivered"
		}
		if attempt >= f.attempts || !retryable(r.Dialect, status) {
			return "failed"
		}
		t := time.NewTimer(pause)
		select {
		case <-f.ctx.Done():
			t.Stop()
			return "dropped"
		case <-t.C:
		}
		pause *= 2
	}
}

// try makes one attempt: the receiver's status (0 without an answer) and
// whether it took the receipt.
func (f *Forwarder) try(r *Receipt) (int, bool) {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	var body io.Reader
	if r.Form != nil {
		body = strings.NewReader(r.Form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return http.StatusBadRequest, false // a URL that cannot be requested will not become one
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, acked(r.Dialect, resp.StatusCode, answer)
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
