package twiliotest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
)

// maxCheckedBody caps how much of a request body Wrap reads; the simulator refuses more
// than 64 KiB anyway.
const maxCheckedBody = 1 << 20

// Violations collects the contract violations Wrap found. It is safe for concurrent use.
type Violations struct {
	mu   sync.Mutex
	list []string
}

// List returns the violations found so far, in order.
func (v *Violations) List() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.list...)
}

func (v *Violations) add(s string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.list = append(v.list, s)
}

// Wrap returns middleware that checks every request against the contract before passing
// it, body restored, to h. Violations are recorded, never answered: h still answers.
// The simulator's control endpoints (/_simulator/...) are not checked.
func (c *Contract) Wrap(h http.Handler) (http.Handler, *Violations) {
	v := &Violations{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_simulator/") {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxCheckedBody))
		if err != nil {
			v.add(r.Method + " " + r.URL.Path + ": reading body: " + err.Error())
		}
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		if err := c.Check(r, body); err != nil {
			v.add(err.Error())
		}
		h.ServeHTTP(w, r)
	}), v
}

// NewServer starts the simulator on loopback behind the contract check and closes it when
// the test ends. At cleanup the test fails if any request violated the contract. Without
// the specs the simulator still runs, unchecked (Violations stays empty).
func NewServer(t testing.TB, cfg simulator.Config) (*httptest.Server, *simulator.Simulator, *Violations) {
	t.Helper()
	sim := simulator.New(cfg)
	c, err := loadContract()
	if err != nil {
		t.Fatalf("loading Twilio's OpenAPI specs: %v", err)
	}
	var h http.Handler = sim
	v := &Violations{}
	if c == nil {
		t.Log(skipMessage)
	} else {
		h, v = c.Wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		if list := v.List(); len(list) > 0 {
			t.Errorf("%d request(s) violated Twilio's OpenAPI contract:\n  %s", len(list), strings.Join(list, "\n  "))
		}
	})
	return srv, sim, v
}
