package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// caddyBin returns the binary under test, or skips the test with the reason.
func caddyBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("CADDY_BIN")
	if bin == "" {
		t.Skip("e2e: CADDY_BIN is not set; build with ./xcaddy.sh and run CADDY_BIN=$PWD/caddy go test -race -count=1 ./test/e2e/")
	}
	fi, err := os.Stat(bin)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Skipf("e2e: CADDY_BIN=%s is not an executable file", bin)
	}
	return bin
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// freePort picks a loopback port nobody listens on, never the same twice in
// one test binary.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("picking a port: %v", err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		portsMu.Lock()
		fresh := !ports[p]
		ports[p] = true
		portsMu.Unlock()
		if fresh {
			return p
		}
	}
	t.Fatal("no fresh loopback port after 50 tries")
	return 0
}

// logBuffer collects a process's stdout and stderr.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one running caddy.
type proc struct {
	role   string // "adapter" or "simulator"
	test   string
	admin  string // http://127.0.0.1:port
	dir    string
	cmd    *exec.Cmd
	logs   *logBuffer
	exited chan struct{}
	err    error // from Wait, valid after exited is closed
}

// globalOptions is the Caddyfile global block every process gets: debug
// logging (so the redaction scan sees every line), a private admin port, no
// TLS automation and nothing written outside dir.
func globalOptions(adminPort int, dir string) string {
	return globalOptionsWith(adminPort, dir, "")
}

// globalOptionsWith is globalOptions plus extra lines (e.g. "grace_period 1s").
func globalOptionsWith(adminPort int, dir, extra string) string {
	if extra != "" {
		extra = "\t" + strings.ReplaceAll(strings.TrimSpace(extra), "\n", "\n\t") + "\n"
	}
	return fmt.Sprintf(`{
	debug
	admin 127.0.0.1:%d
	auto_https off
	persist_config off
	storage file_system %s
%s}
`, adminPort, filepath.Join(dir, "data"), extra)
}

// startCaddy writes cfg (a whole Caddyfile made with globalOptions) and runs
// `caddy run` on it until the test ends. It waits until the admin endpoint
// answers and every address in wait accepts connections.
func startCaddy(t testing.TB, role, dir string, adminPort int, cfg string, wait ...string) *proc {
	t.Helper()
	bin := caddyBin(t)
	path := filepath.Join(dir, role+".Caddyfile")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{role: role, test: t.Name(), admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort), dir: dir,
		logs: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "xdg-data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "xdg-config"))
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", role, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	registerLogs(p)
	t.Cleanup(func() {
		t0 := time.Now()
		p.stop()
		if os.Getenv("E2E_DEBUG_STOP") == "1" {
			t.Logf("stopping %s took %s", role, time.Since(t0))
		}
		checkProcLogs(t, p)
		if t.Failed() && os.Getenv("E2E_DUMP_LOGS") == "1" {
			t.Logf("%s log:\n%s", role, p.logs.String())
		}
	})
	if err := p.waitReady(15*time.Second, wait...); err != nil {
		t.Fatalf("%s did not start: %v\n%s", role, err, tail(p.logs.String(), 20))
	}
	return p
}

func (p *proc) waitReady(limit time.Duration, addrs ...string) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second}
	ready := func() bool {
		resp, err := c.Get(p.admin + "/config/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		for _, a := range addrs {
			conn, err := net.DialTimeout("tcp", a, 500*time.Millisecond)
			if err != nil {
				return false
			}
			conn.Close()
		}
		return true
	}
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("caddy exited: %v", p.err)
		default:
		}
		if ready() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", limit)
}

// stop sends SIGTERM, then kills the process if it has not exited in 5s.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// load replaces the running config through the admin API, as `caddy reload` does.
func (p *proc) load(cfg string) error {
	req, err := http.NewRequest(http.MethodPost, p.admin+"/load", strings.NewReader(cfg))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("POST /load: %s: %s", resp.Status, tail(b.String(), 5))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
