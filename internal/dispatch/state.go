package dispatch

import (
	"sync"
	"time"
)

// StateConfig sizes the per-account limiters and breakers. Zero fields get the
// documented defaults.
type StateConfig struct {
	// MaxConcurrent is each account's cap of requests in flight. Default 32.
	MaxConcurrent int
	// MaxQueue is how many requests may wait for a slot per account. Default 256.
	// Negative means none (shed as soon as the cap is reached).
	MaxQueue int
	// BreakerFailures is the number of consecutive failures that opens a
	// breaker. Default 5.
	BreakerFailures int
	// BreakerCooldown is how long an open breaker skips its account before one
	// probe. Default 30s.
	BreakerCooldown time.Duration
	// Now is the breakers' clock (tests). Default time.Now.
	Now func() time.Time
}

// State holds the limiter and breaker of every account, keyed by account SID
// and username, so that they outlive a Caddy config reload: the glue keeps one
// State per distinct StateConfig in a caddy.UsagePool (State implements
// caddy.Destructor) and hands it to each new Dispatcher. Two configured
// accounts with the same SID and credentials share one limiter and breaker,
// like they share Twilio's per-account concurrency limit.
//
// A State is safe for concurrent use. Entries are never removed: there is one
// per configured account.
type State struct {
	cfg      StateConfig
	mu       sync.RWMutex
	accounts map[stateKey]*AccountState
}

type stateKey struct{ sid, user string }

// AccountState is the shared state of one account.
type AccountState struct {
	Limiter *Limiter
	Breaker *Breaker
}

// NewState applies the defaults of cfg and returns an empty State.
func NewState(cfg StateConfig) *State {
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 32
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 256
	} else if cfg.MaxQueue < 0 {
		cfg.MaxQueue = 0
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 5
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &State{cfg: cfg, accounts: make(map[stateKey]*AccountState)}
}

// Config is the configuration with defaults applied.
func (s *State) Config() StateConfig { return s.cfg }

// For returns the state of a's account, creating it on first use.
func (s *State) For(a *Account) *AccountState {
	k := a.key()
	s.mu.RLock()
	st := s.accounts[k]
	s.mu.RUnlock()
	if st != nil {
		return st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st = s.accounts[k]; st == nil {
		st = &AccountState{
			Limiter: NewLimiter(s.cfg.MaxConcurrent, s.cfg.MaxQueue),
			Breaker: NewBreaker(s.cfg.BreakerFailures, s.cfg.BreakerCooldown, s.cfg.Now),
		}
		s.accounts[k] = st
	}
	return st
}

// Destruct implements caddy.Destructor. There is nothing to release: requests
// still in flight keep their limiter slots until they finish.
func (s *State) Destruct() error { return nil }
