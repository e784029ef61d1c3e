package delivery

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// Poller defaults.
const (
	DefaultPollAttempts    = 8
	DefaultPollMaxInterval = 10 * time.Minute
	DefaultPollInFlight    = 10000
	DefaultPollWorkers     = 4
	DefaultPollTimeout     = 10 * time.Second
)

// FetchFunc fetches a message's current status (Twilio's GET
// /2010-04-01/Accounts/{AccountSid}/Messages/{sid}.json, with the
// credentials of t.AccountSID; ParseMessage reads the answer).
type FetchFunc func(ctx context.Context, t Token, sid string) (*Status, error)

// PollerConfig configures a Poller; zero values take the defaults.
type PollerConfig struct {
	// After is the wait before the first fetch (status_poll <after>); it
	// then doubles after each fetch that finds no final status, up to
	// MaxInterval. Required.
	After time.Duration
	// MaxInterval caps the wait between fetches (DefaultPollMaxInterval).
	MaxInterval time.Duration
	// Attempts is the most fetches per message (DefaultPollAttempts).
	Attempts int
	// MaxInFlight is the most messages followed at once
	// (DefaultPollInFlight); Track refuses more.
	MaxInFlight int
	// Workers is the most fetches at once (DefaultPollWorkers).
	Workers int
	// Timeout bounds each fetch (DefaultPollTimeout).
	Timeout time.Duration
	// Fetch fetches a status. Required.
	Fetch FetchFunc
	// Handle receives every status fetched (usually Tracker.Handle), and a
	// last "sent" marked Final when the attempts ran out on it. Required.
	Handle func(ctx context.Context, st *Status) bool
	// Observer counts the polls (nil: none).
	Observer Observer
	// Route labels the in-flight gauge (the poller's route).
	Route string
}

// Poller follows messages whose status cannot come by callback (a private
// deployment Twilio cannot reach): each is fetched After its create and
// again, with a doubling wait, until its status is final or the attempts run
// out. It keeps nothing but the set of messages in flight, bounded by
// MaxInFlight; a restart forgets them. Safe for concurrent use.
type Poller struct {
	cfg PollerConfig
	obs Observer

	mu    sync.Mutex
	queue pollQueue
	inSet map[string]bool // message SIDs in flight (queued or being fetched)
	wake  chan struct{}
	sem   chan struct{}

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped bool
}

// NewPoller starts a poller. Stop it with Stop.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	if cfg.After <= 0 {
		return nil, errors.New("status_poll: the first wait must be positive")
	}
	if cfg.Fetch == nil || cfg.Handle == nil {
		return nil, errors.New("status_poll: a fetch and a handler are required")
	}
	cfg.MaxInterval = max(orDuration(cfg.MaxInterval, DefaultPollMaxInterval), cfg.After)
	cfg.Attempts = orInt(cfg.Attempts, DefaultPollAttempts)
	cfg.MaxInFlight = orInt(cfg.MaxInFlight, DefaultPollInFlight)
	cfg.Workers = orInt(cfg.Workers, DefaultPollWorkers)
	cfg.Timeout = orDuration(cfg.Timeout, DefaultPollTimeout)
	p := &Poller{cfg: cfg, obs: cfg.Observer, inSet: map[string]bool{}, wake: make(chan struct{}, 1), sem: make(chan struct{}, cfg.Workers)}
	if p.obs == nil {
		p.obs = NopObserver{}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.run()
	return p, nil
}

// pollItem is one message in flight.
type pollItem struct {
	token    Token
	sid      string
	due      time.Time
	attempts int           // fetches made
	wait     time.Duration // the wait before the next fetch
	last     *Status       // the last status fetched
}

// Track starts following message sid, sent under token t. It reports false
// (and counts "refused") when MaxInFlight messages are followed already or
// the poller has stopped; a message already followed is not added twice.
func (p *Poller) Track(t Token, sid string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		p.obs.Poll(t.Route, "stopped")
		return false
	}
	if p.inSet[sid] {
		return true
	}
	if len(p.inSet) >= p.cfg.MaxInFlight {
		p.obs.Poll(t.Route, "refused")
		return false
	}
	p.inSet[sid] = true
	heap.Push(&p.queue, &pollItem{token: t, sid: sid, due: time.Now().Add(p.cfg.After), wait: p.cfg.After})
	p.obs.PollsInFlight(p.cfg.Route, len(p.inSet))
	p.signal()
	return true
}

// InFlight is the number of messages followed.
func (p *Poller) InFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inSet)
}

// Stop stops the poller: fetches in progress are abandoned and every
// message followed is forgotten. It returns when its goroutines have ended.
func (p *Poller) Stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	p.queue = nil
	clear(p.inSet)
	p.mu.Unlock()
	p.obs.PollsInFlight(p.cfg.Route, 0)
}

func (p *Poller) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run starts the fetches as they fall due, at most Workers at a time.
func (p *Poller) run() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		now := time.Now()
		var due []*pollItem
		for len(p.queue) > 0 && !p.queue[0].due.After(now) {
			due = append(due, heap.Pop(&p.queue).(*pollItem))
		}
		wait := time.Hour
		if len(p.queue) > 0 {
			wait = p.queue[0].due.Sub(now)
		}
		p.mu.Unlock()
		for i := range due {
			select {
			case p.sem <- struct{}{}:
			case <-p.ctx.Done():
				return
			}
			p.wg.Add(1)
			go p.fetch(due[i])
		}
		if len(due) > 0 {
			continue // time went by while waiting for workers
		}
		timer.Reset(wait)
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// fetch makes one fetch of it and decides what comes next.
func (p *Poller) fetch(it *pollItem) {
	defer p.wg.Done()
	defer func() { <-p.sem }()
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	st, err := p.cfg.Fetch(ctx, it.token, it.sid)
	cancel()
	if p.ctx.Err() != nil {
		return // stopping: the message is forgotten
	}
	it.attempts++
	route := it.token.Route
	hctx, hcancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer hcancel()
	switch {
	case err != nil || st == nil:
		p.obs.Poll(route, "error")
	default:
		st.Token, st.Source = it.token, SourcePoll
		if st.MessageSid == "" {
			st.MessageSid = it.sid
		}
		if st.At.IsZero() {
			st.At = time.Now()
		}
		it.last = st
		if Terminal(st.Status) {
			p.obs.Poll(route, "final")
			p.cfg.Handle(hctx, st)
			p.done(it)
			return
		}
		p.obs.Poll(route, "pending")
		p.cfg.Handle(hctx, st)
	}
	if it.attempts >= p.cfg.Attempts {
		p.obs.Poll(route, "gave_up")
		if it.last != nil && it.last.Status == StatusSent {
			last := *it.last
			last.Final = true
			p.cfg.Handle(hctx, &last)
		}
		p.done(it)
		return
	}
	it.wait = min(it.wait*2, p.cfg.MaxInterval)
	p.mu.Lock()
	if !p.stopped {
		it.due = time.Now().Add(it.wait)
		heap.Push(&p.queue, it)
		p.signal()
	}
	p.mu.Unlock()
}

func (p *Poller) done(it *pollItem) {
	p.mu.Lock()
	delete(p.inSet, it.sid)
	n := len(p.inSet)
	p.mu.Unlock()
	p.obs.PollsInFlight(p.cfg.Route, n)
}

// pollQueue is a min-heap of items by due time.
type pollQueue []*pollItem

func (q pollQueue) Len() int           { return len(q) }
func (q pollQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q pollQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *pollQueue) Push(x any)        { *q = append(*q, x.(*pollItem)) }
func (q *pollQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return it
}
