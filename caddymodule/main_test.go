//go:build linux

package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestMain runs the package's tests with the leak check described at the top
// of helpers_test.go: everything written to file descriptors 1 and 2 is copied
// to the real stream and kept; afterwards, a value registered with noteSecret
// appearing in it fails the run with exit status 1.
func TestMain(m *testing.M) {
	testBinary, _ = os.Executable() // before caddytest rewrites os.Args
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/ instead of comparing with them")
	}
	os.Exit(runLeakChecked(m))
}

func runLeakChecked(m *testing.M) int {
	c, err := captureOutput()
	if err != nil {
		m.Run()
		fmt.Fprintf(os.Stderr, "leak check: cannot capture the test output (%v): failing the run\n", err)
		return 1
	}
	code := m.Run()
	outputs := c.stop()
	leaks := findLeaks(notedSecrets(), outputs)
	if len(leaks) == 0 {
		return code
	}
	fmt.Fprintf(os.Stderr, "\nleak check FAILED: %d registered secret value(s) appeared in the test output "+
		"(the values are not printed; in the lines below every registered value is replaced by [secret]):\n", len(leaks))
	for _, l := range leaks {
		fmt.Fprintf(os.Stderr, "  - a value registered by %s appeared on %s, line %d: %s\n", l.by, l.stream, l.line, l.context)
	}
	return 1
}

// capturedStream is one file descriptor redirected into a pipe.
type capturedStream struct {
	name  string
	fd    int
	real  *os.File // a duplicate of the original descriptor
	r     *os.File
	done  chan struct{}
	mu    sync.Mutex
	taken bytes.Buffer
}

type outputCapture struct{ streams []*capturedStream }

// captureOutput points fds 1 and 2 at pipes whose readers copy everything to
// the original streams and keep it.
func captureOutput() (*outputCapture, error) {
	c := &outputCapture{}
	for _, std := range []struct {
		name string
		fd   int
	}{{"stdout", 1}, {"stderr", 2}} {
		saved, err := syscall.Dup(std.fd)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("dup %s: %w", std.name, err)
		}
		syscall.CloseOnExec(saved)
		r, w, err := os.Pipe()
		if err != nil {
			syscall.Close(saved)
			c.stop()
			return nil, err
		}
		// Dup3 is Dup2 without the flags; unlike Dup2 it exists on every Linux architecture.
		if err := syscall.Dup3(int(w.Fd()), std.fd, 0); err != nil {
			syscall.Close(saved)
			r.Close()
			w.Close()
			c.stop()
			return nil, fmt.Errorf("dup2 %s: %w", std.name, err)
		}
		w.Close() // std.fd is now the pipe's only writer
		s := &capturedStream{name: std.name, fd: std.fd, real: os.NewFile(uintptr(saved), std.name), r: r, done: make(chan struct{})}
		go s.pump()
		c.streams = append(c.streams, s)
	}
	// A crash (an unhandled panic, -timeout) ends the process before the pipe
	// is drained: let the runtime print it to the real stderr too.
	_ = debug.SetCrashOutput(c.streams[1].real, debug.CrashOptions{})
	return c, nil
}

func (s *capturedStream) pump() {
	defer close(s.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := s.r.Read(buf)
		if n > 0 {
			_, _ = s.real.Write(buf[:n])
			s.mu.Lock()
			s.taken.Write(buf[:n])
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// stop restores the descriptors, waits for the pipes to drain and returns what
// each stream carried. A child process still holding a pipe is waited for a
// few seconds only.
func (c *outputCapture) stop() map[string][]byte {
	_ = debug.SetCrashOutput(nil, debug.CrashOptions{})
	for _, s := range c.streams {
		_ = syscall.Dup3(int(s.real.Fd()), s.fd, 0) // drops the pipe's last writer
	}
	out := map[string][]byte{}
	for _, s := range c.streams {
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			fmt.Fprintf(os.Stderr, "leak check: %s did not drain (a child process holds it?); checking what arrived\n", s.name)
			s.r.Close()
		}
		s.mu.Lock()
		out[s.name] = bytes.Clone(s.taken.Bytes())
		s.mu.Unlock()
	}
	return out
}

// leak is the first appearance of one registered value.
type leak struct {
	by, stream string
	line       int
	context    string
}

// secretForms are the ways a value may be written out: as is, URL-escaped (a
// logged query or form), JSON-escaped (a JSON log) and Go-quoted (%q).
func secretForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		forms = append(forms, strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:])
	}
	if j, err := json.Marshal(v); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	q := strconv.Quote(v)
	forms = append(forms, q[1:len(q)-1])
	out := forms[:0]
	seen := map[string]bool{}
	for _, f := range forms {
		if len(f) >= minSecretLen && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// findLeaks returns the first appearance of each registered value in the
// outputs. It indexes every form by its first minSecretLen bytes and slides
// once over each output, so thousands of values cost one pass.
func findLeaks(secrets []notedSecret, outputs map[string][]byte) []leak {
	type form struct {
		text   []byte
		secret int
	}
	index := map[string][]form{}
	var all []string
	for i, s := range secrets {
		for _, f := range secretForms(s.value) {
			index[f[:minSecretLen]] = append(index[f[:minSecretLen]], form{[]byte(f), i})
			all = append(all, f)
		}
	}
	// Longest first, so that a message is redacted whole before the code in it.
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	found := map[int]bool{}
	var leaks []leak
	for _, stream := range []string{"stdout", "stderr"} {
		data := outputs[stream]
		for i := 0; i+minSecretLen <= len(data); i++ {
			cands, ok := index[string(data[i:i+minSecretLen])]
			if !ok {
				continue
			}
			for _, f := range cands {
				if found[f.secret] || !bytes.HasPrefix(data[i:], f.text) {
					continue
				}
				found[f.secret] = true
				leaks = append(leaks, leak{
					by:      secrets[f.secret].by,
					stream:  stream,
					line:    1 + bytes.Count(data[:i], []byte("\n")),
					context: redactLine(data, i, all),
				})
			}
		}
	}
	return leaks
}

// redactLine is the line of data around offset i with every form of every
// registered value replaced, cut to a readable length.
func redactLine(data []byte, i int, forms []string) string {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	end := bytes.IndexByte(data[i:], '\n')
	if end < 0 {
		end = len(data)
	} else {
		end += i
	}
	line := string(data[start:end])
	for _, f := range forms {
		line = strings.ReplaceAll(line, f, "[secret]")
	}
	const maxContext = 300
	if len(line) > maxContext {
		cut := maxContext
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…"
	}
	return line
}

// testBinary is this test binary, for TestLeakCheck's child process.
var testBinary string

// leakChildEnv makes TestLeakCheckChild leak on purpose.
const leakChildEnv = "CADDYMODULE_LEAK_CHECK_CHILD"

// TestLeakCheckChild leaks a registered value when run by TestLeakCheck in a
// child process; otherwise it does nothing.
func TestLeakCheckChild(t *testing.T) {
	if os.Getenv(leakChildEnv) != "1" {
		t.Skip("only runs as TestLeakCheck's child process")
	}
	secret := os.Getenv(leakChildEnv + "_VALUE")
	noteSecret(secret)
	fmt.Fprintf(os.Stderr, `{"level":"info","msg":"oops","to":%q}`+"\n", secret)
}

// TestLeakCheck runs TestLeakCheckChild in a child process and checks that the
// run fails, names the registering test and does not print the value.
func TestLeakCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	// Built at run time and never registered here: this process does not print it.
	value := "LEAK" + strings.ToUpper(strconv.FormatInt(time.Now().UnixNano(), 36)) + "CHILD"
	cmd := exec.Command(testBinary, "-test.run=^TestLeakCheckChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), leakChildEnv+"=1", leakChildEnv+"_VALUE="+value)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child exit: %v, want exit status 1", err)
	}
	if !strings.Contains(stdout.String(), "--- PASS: TestLeakCheckChild") {
		t.Errorf("the child's test did not pass (%d bytes of stdout): the failure must come from the leak check", stdout.Len())
	}
	_, report, ok := strings.Cut(stderr.String(), "leak check FAILED")
	switch {
	case !ok:
		t.Fatal("the child's stderr has no leak report")
	case strings.Contains(report, value):
		t.Error("the leak report prints the leaked value")
	case !strings.Contains(report, "registered by TestLeakCheckChild appeared on stderr"):
		t.Errorf("the leak report does not name the registering test and stream: %q", report)
	case !strings.Contains(report, `"to":"[secret]"`):
		t.Errorf("the leak report does not show the redacted line: %q", report)
	}
}

func TestFindLeaks(t *testing.T) {
	secrets := []notedSecret{
		{value: "Your code is QZ7K9X", by: "TestA"},
		{value: "QZ7K9X", by: "TestA"},
		{value: "+919812345678", by: "TestB"},
		{value: "tok-3f9a2b7c", by: "TestC"},
		{value: "never-printed", by: "TestD"},
	}
	outputs := map[string][]byte{
		"stdout": []byte("=== RUN TestX\nform to=%2B919812345678\n"),
		"stderr": []byte("line one\n{\"msg\":\"Your code is QZ7K9X\"}\nmasked +9198••••678 tok-3f9a2b7\nauth \"tok-3f9a2b7c\"\n"),
	}
	got := map[string]leak{}
	for _, l := range findLeaks(secrets, outputs) {
		if _, dup := got[l.by+l.stream]; dup {
			continue
		}
		got[l.by+l.stream] = l
	}
	want := map[string]int{"TestBstdout": 2, "TestAstderr": 2, "TestCstderr": 4}
	if len(got) != len(want) {
		t.Errorf("found %d leaks %v, want %v", len(got), got, want)
	}
	for k, line := range want {
		l, ok := got[k]
		if !ok || l.line != line {
			t.Errorf("%s: got %+v, want a leak on line %d", k, l, line)
		}
		for _, s := range secrets {
			if strings.Contains(l.context, s.value) {
				t.Errorf("%s: context %q shows a registered value", k, l.context)
			}
		}
	}
	if c := got["TestAstderr"].context; c != `{"msg":"[secret]"}` {
		t.Errorf("context = %q, want the message redacted whole", c)
	}
}

func TestSecretForms(t *testing.T) {
	forms := secretForms("a b+c\"é<")
	for _, want := range []string{"a b+c\"é<", "a+b%2Bc%22%C3%A9%3C", `a b+c\"é<`, `a b+c\"é\u003c`} {
		if !slices.Contains(forms, want) {
			t.Errorf("secretForms lacks %q: %q", want, forms)
		}
	}
	if len(secretForms("12345")) != 0 {
		t.Error("a value shorter than minSecretLen has forms")
	}
}

func TestCaddyfileSecrets(t *testing.T) {
	t.Setenv("CADDYMODULE_TEST_SECRET_ENV", "from-the-environment")
	got := caddyfileSecrets(`
{
	admin localhost:2999
}
http://localhost:9080 {
	twilio_sms generic {
		account_sid AC00000000000000000000000000000001
		auth_token  stored-token
		api_key     SK00000000000000000000000000000001 "key secret"
		caller_auth header X-Api-Key header-value
		caller_auth basic idp basic-password
		subaccount +91 { name india
			account_sid AC00000000000000000000000000000002
			auth_token {env.CADDYMODULE_TEST_SECRET_ENV}
		}
		fallback b { account_sid AC00000000000000000000000000000003 auth_token inline-token }
		from +15005550006
	}
	twilio_simulator {
		account AC00000000000000000000000000000001 sim-token {
			parent  AC00000000000000000000000000000009
			api_key SK00000000000000000000000000000001 sim-key-secret
		}
	}
}`)
	want := []string{"stored-token", "key secret", "header-value", "basic-password",
		"{env.CADDYMODULE_TEST_SECRET_ENV}", "from-the-environment", "inline-token", "sim-token", "sim-key-secret"}
	if !slices.Equal(got, want) {
		t.Errorf("caddyfileSecrets = %q\nwant %q", got, want)
	}
}

func TestWithTestGlobals(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"no global block", "http://localhost:9080 {\n}", []string{"admin localhost:2999", "http_port 9080", "debug", "persist_config off"}},
		{"a comment, then sites", "# a site\nhttp://localhost:9080 {\n}", []string{"admin localhost:2999", "debug"}},
		{"own global block", "# comment\n{\n\tadmin localhost:2999\n\thttp_port 9080\n}\n:9080 {\n}", []string{"admin localhost:2999", "debug", "persist_config off", "http_port 9080"}},
		{"own global block without admin", "{\n\tauto_https off\n}\n:9080 {\n}", []string{"admin localhost:2999", "debug"}},
		{"own debug kept once", "{\n\tdebug\n\tpersist_config off\n}\n", []string{"debug"}},
	} {
		out := withTestGlobals(tt.in)
		for _, w := range tt.want {
			if n := strings.Count(out, w); n != 1 {
				t.Errorf("%s: %q appears %d times in\n%s", tt.name, w, n, out)
			}
		}
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(out), nil); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestRegisteringTest(t *testing.T) {
	if got := registeringTest(); got != "TestRegisteringTest" {
		t.Errorf("direct: %q", got)
	}
	t.Run("sub", func(t *testing.T) {
		done := make(chan string)
		go func() { done <- registeringTest() }()
		if got := <-done; got != "TestRegisteringTest" {
			t.Errorf("goroutine of a subtest: %q", got)
		}
	})
}
