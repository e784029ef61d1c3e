package simulator

import (
	"sync"
	"time"
)

// DefaultMaxStored is the number of messages and calls kept for fetch and list when
// Config.MaxStored is 0 or less.
const DefaultMaxStored = 10000

// step is one status of a message or call, from at on. A resource's steps are planned at
// creation (see lifecycle.go); the status at a given time is the last step begun by then,
// so a fetch always reflects the latest status without any goroutine. Steps are never
// modified in place: a change (cancel, hang up) replaces the slice, so a copy taken under
// the lock stays valid.
type step struct {
	at     time.Time
	status string
	code   int    // error code of failed and undelivered messages and of failed calls
	event  string // calls: the StatusCallbackEvent this step reports ("" = none)
}

// current returns the index of the step in effect at now (0 before the first).
func current(steps []step, now time.Time) int {
	i := 0
	for j := 1; j < len(steps) && !steps[j].at.After(now); j++ {
		i = j
	}
	return i
}

// stepAt returns the time the first step with the given status began, if it has by now.
func stepAt(steps []step, status string, now time.Time) (time.Time, bool) {
	for _, st := range steps {
		if st.at.After(now) {
			break
		}
		if st.status == status {
			return st.at, true
		}
	}
	return time.Time{}, false
}

// store keeps the created messages and calls for fetch, list, update and delete, the
// oldest forgotten first beyond max.
type store struct {
	mu       sync.RWMutex
	max      int
	messages map[string]*message
	calls    map[string]*call
	order    []string // SIDs, oldest first; deleted and forgotten SIDs are skipped
}

func newStore(max int) *store {
	if max <= 0 {
		max = DefaultMaxStored
	}
	return &store{max: max, messages: make(map[string]*message), calls: make(map[string]*call)}
}

// add stores a new message or call. The caller holds no lock.
func (st *store) add(sid string, m *message, c *call) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if m != nil {
		st.messages[sid] = m
	} else {
		st.calls[sid] = c
	}
	st.order = append(st.order, sid)
	for len(st.order) > st.max {
		delete(st.messages, st.order[0])
		delete(st.calls, st.order[0])
		st.order[0] = ""
		st.order = st.order[1:]
	}
}

func (st *store) clear() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.messages = make(map[string]*message)
	st.calls = make(map[string]*call)
	st.order = nil
}

// newestFirst calls fn for the stored SIDs, newest first, until fn returns false. The
// caller holds st.mu.
func (st *store) newestFirst(fn func(sid string) bool) {
	for i := len(st.order) - 1; i >= 0; i-- {
		if !fn(st.order[i]) {
			return
		}
	}
}
