package dispatch

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// fakeTwilio is a small stand-in for Twilio's Messages API. It counts the
// requests it got and the messages it created (a message counts as created as
// soon as a handler decides so, even if the answer is then lost), which is what
// "never send twice" is measured against.
type fakeTwilio struct {
	srv               *httptest.Server
	requests, created atomic.Int64
	inFlight, peak    atomic.Int64
	release           chan struct{} // closed at cleanup: frees hanging handlers
	handle            func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64)
	lastBody          atomic.Value
}

func newFake(t testing.TB, handle func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64)) *fakeTwilio {
	f := &fakeTwilio{handle: handle, release: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.requests.Add(1)
		cur := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for {
			p := f.peak.Load()
			if cur <= p || f.peak.CompareAndSwap(p, cur) {
				break
			}
		}
		_ = r.ParseForm()
		f.lastBody.Store(r.PostForm.Get("Body"))
		f.handle(f, w, r, n)
	}))
	t.Cleanup(func() {
		close(f.release)
		f.srv.Close()
	})
	return f
}

func (f *fakeTwilio) URL() string { return f.srv.URL }

// The handlers.

func created(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
	f.created.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Twilio-Concurrent-Requests", fmt.Sprint(f.inFlight.Load()))
	w.WriteHeader(201)
	// Twilio echoes the message text in "body".
	fmt.Fprintf(w, `{"sid":"SM%032x","status":"queued","to":%q,"body":%q,"error_code":null}`, n, r.PostForm.Get("To"), r.PostForm.Get("Body"))
}

func replyError(status, code int) func(*fakeTwilio, http.ResponseWriter, *http.Request, int64) {
	return func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":%d,"message":"error %d","more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, code, code, status)
	}
}

// replyPlain answers status with a body that is not Twilio's, as an edge,
// proxy or load balancer would.
func replyPlain(status int) func(*fakeTwilio, http.ResponseWriter, *http.Request, int64) {
	return func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>", status, http.StatusText(status))
	}
}

// createdThen creates the message and then answers with h anyway: what a
// Twilio 5xx cannot rule out.
func createdThen(h func(*fakeTwilio, http.ResponseWriter, *http.Request, int64)) func(*fakeTwilio, http.ResponseWriter, *http.Request, int64) {
	return func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
		f.created.Add(1)
		h(f, w, r, n)
	}
}

// firstThen answers the first n requests with a and the rest with b.
func firstThen(n int64, a, b func(*fakeTwilio, http.ResponseWriter, *http.Request, int64)) func(*fakeTwilio, http.ResponseWriter, *http.Request, int64) {
	return func(f *fakeTwilio, w http.ResponseWriter, r *http.Request, i int64) {
		if i <= n {
			a(f, w, r, i)
			return
		}
		b(f, w, r, i)
	}
}

// hang creates the message and never answers (until the client gives up).
func hang(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
	f.created.Add(1)
	select {
	case <-r.Context().Done():
	case <-f.release:
	}
}

// resetBeforeReply creates the message and drops the connection without a byte.
func resetBeforeReply(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
	f.created.Add(1)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

// resetMidResponse creates the message, sends the 201 status line and half the body, then drops.
func resetMidResponse(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
	f.created.Add(1)
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(buf, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"sid\":\"SM%032x\",\"sta", n)
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// malformed2xx creates the message and answers 201 with a body that is not JSON.
func malformed2xx(f *fakeTwilio, w http.ResponseWriter, r *http.Request, n int64) {
	f.created.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	fmt.Fprint(w, `{"sid":"SM`)
}

// closedPort returns a loopback base URL where nothing listens: connection refused.
func closedPort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
