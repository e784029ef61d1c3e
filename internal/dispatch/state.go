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

// withDefaults applies the documented defaults.
func (cfg StateConfig) withDefaults() StateConfig {
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
	return cfg
}

// State holds the limiter and breaker of every account, keyed by the account's
// stable identity: its SID and its API host (Account.APIURL). Credentials are
// not part of the key, so rotating an auth token or API key keeps the state,
// and two configured accounts with the same SID and host share one limiter and
// breaker, like they share Twilio's per-account concurrency limit.
//
// A State is meant to outlive Caddy config reloads: the glue keeps one in a
// caddy.UsagePool (State implements caddy.Destructor), hands it to each new
// Dispatcher, and applies a changed StateConfig with Update, which keeps every
// limiter's slots and waiters and every breaker's state.
//
// A State is safe for concurrent use. Entries are never removed: there is one
// per configured account.
type State struct {
	mu       sync.RWMutex
	cfg      StateConfig
	accounts map[stateKey]*AccountState
}

type stateKey struct{ sid, api string }

// AccountState is the shared state of one account.
type AccountState struct {
	Limiter *Limiter
	Breaker *Breaker
}

// NewState applies the defaults of cfg and returns an empty State.
func NewState(cfg StateConfig) *State {
	return &State{cfg: cfg.withDefaults(), accounts: make(map[stateKey]*AccountState)}
}

// Config is the configuration with defaults applied.
func (s *State) Config() StateConfig {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

// Update applies the defaults of cfg and makes it the configuration of every
// account, in place: Limiter.Update with MaxConcurrent and MaxQueue, and
// Breaker.Update with BreakerFailures and BreakerCooldown. cfg.Now is ignored:
// the breakers keep their clock. Accounts created later get cfg too. The last
// Update wins: routes that share a State share its configuration.
func (s *State) Update(cfg StateConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now
	s.cfg = cfg.withDefaults()
	s.cfg.Now = now
	for _, st := range s.accounts {
		st.Limiter.Update(s.cfg.MaxConcurrent, s.cfg.MaxQueue)
		st.Breaker.Update(s.cfg.BreakerFailures, s.cfg.BreakerCooldown)
	}
}

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
