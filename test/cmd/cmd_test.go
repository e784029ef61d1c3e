//go:build unix

// Package cmd runs the built caddy binary's `twilio-sms` commands (CADDY_BIN)
// and checks their exit statuses: 0 success, 1 failure, 2 usage error, as the
// commands' help says. Exit statuses are what caddycmd.Main makes of a
// command's result, so only the real binary shows them. Without CADDY_BIN
// those tests are skipped with a message:
//
//	./xcaddy.sh && CADDY_BIN=$PWD/caddy go test -count=1 ./test/cmd/
package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	// What xcaddy's main imports for this module: the root package.
	_ "github.com/twilio-sms-adapter/caddy-twilio-sms"
)

// TestRootPackageRegisters: importing the module root, as xcaddy's generated
// main does, registers both modules and the twilio-sms command.
func TestRootPackageRegisters(t *testing.T) {
	for _, id := range []string{"http.handlers.twilio_sms", "http.handlers.twilio_simulator"} {
		if _, err := caddy.GetModule(id); err != nil {
			t.Errorf("module %s: %v", id, err)
		}
	}
	if _, ok := caddycmd.Commands()["twilio-sms"]; !ok {
		t.Errorf("no twilio-sms command registered")
	}
}

// TestQuickStartInProcess runs the registered `twilio-sms test --config
// Caddyfile --to +15005550006` in this process on the shipped quick start,
// with nothing running: it succeeds (no error for caddycmd.Main to exit
// non-zero with) because the command starts the Caddyfile's simulator on
// 127.0.0.1:8081, and stops it after.
func TestQuickStartInProcess(t *testing.T) {
	quick := filepath.Join(repoRoot(t), "Caddyfile")
	quickStartLock(t)
	if listening("127.0.0.1:8081") {
		t.Skip("something listens on 127.0.0.1:8081 (the quick start running?): the test would not show that the command starts the simulator")
	}
	c := &cobra.Command{Use: "twilio-sms"}
	caddycmd.Commands()["twilio-sms"].CobraFunc(c)
	var out, errOut bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&errOut)
	c.SetArgs([]string{"test", "--config", quick, "--to", "+15005550006"})
	if err := c.Execute(); err != nil {
		t.Fatalf("caddy would exit non-zero: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errOut)
	}
	if !strings.Contains(out.String(), "Twilio accepted the message: sid SM") || !strings.Contains(errOut.String(), "on 127.0.0.1:8081 for this test") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", &out, &errOut)
	}
	if listening("127.0.0.1:8081") {
		t.Errorf("127.0.0.1:8081 still listens after the command")
	}
}

// caddyBin returns the binary under test, or skips the test with the reason.
func caddyBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CADDY_BIN")
	if bin == "" {
		t.Skip("cmd: CADDY_BIN is not set; build with ./xcaddy.sh and run CADDY_BIN=$PWD/caddy go test -count=1 ./test/cmd/")
	}
	fi, err := os.Stat(bin)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Skipf("cmd: CADDY_BIN=%s is not an executable file", bin)
	}
	return bin
}

// repoRoot is the checkout's top folder (this package is test/cmd).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type result struct {
	stdout, stderr string
	status         int
}

func (r result) String() string {
	return fmt.Sprintf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.stdout, r.stderr)
}

// runCaddy runs `caddy <args>` in dir with stdin and returns its output and exit
// status. HOME and XDG folders point into a temporary folder so that nothing
// is written to the user's.
func runCaddy(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin(t), args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.status = ee.ExitCode()
	default:
		t.Fatalf("caddy %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type exitCase struct {
	name   string
	stdin  string
	args   []string
	status int
	// want are substrings of stdout+stderr.
	want []string
}

func runCases(t *testing.T, dir string, cases []exitCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCaddy(t, dir, tc.stdin, tc.args...)
			if r.status != tc.status {
				t.Errorf("caddy %s: want exit status %d, got %s", strings.Join(tc.args, " "), tc.status, r)
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("caddy %s: output lacks %q\n%s", strings.Join(tc.args, " "), w, r)
				}
			}
		})
	}
}

const (
	account = "AC00000000000000000000000000000001"
	sample  = "POST /sms HTTP/1.1\nHost: localhost\nContent-Type: application/x-www-form-urlencoded\n\nto=%2B15005550006&message=Your+code+is+123456\n"
	invalid = "POST /sms HTTP/1.1\nHost: localhost\nContent-Type: application/x-www-form-urlencoded\n\nto=not-a-number&message=x\n"
)

const goodMapping = `{
  "name": "custom",
  "fields": [
    {"name": "to", "from": ["form:to"], "required": true, "type": "phone"},
    {"name": "message", "from": ["form:message"], "required": true}
  ],
  "twilio": {"messages": {"To": "to", "Body": "message"}},
  "reply": {"success": {"body": {"ok": true}}, "failure": {"body": {"ok": false}}}
}
`

func TestCommandExitStatus(t *testing.T) {
	caddyBin(t)
	dir := t.TempDir()
	writeFile(t, dir, "good.json", goodMapping)
	writeFile(t, dir, "bad.json", strings.Replace(goodMapping, `"Body": "message"`, `"Boddy": "message"`, 1))
	runCases(t, dir, []exitCase{
		{name: "no subcommand", args: []string{"twilio-sms"}, status: 2, want: []string{"give a subcommand"}},
		{name: "unknown subcommand", args: []string{"twilio-sms", "chek"}, status: 2, want: []string{`unknown subcommand "chek"`, "did you mean check?"}},
		{name: "unknown flag", args: []string{"twilio-sms", "--bogus"}, status: 2, want: []string{"unknown flag: --bogus"}},
		{name: "help", args: []string{"twilio-sms", "--help"}, status: 0, want: []string{"Exit status, for every subcommand:"}},
		{name: "help of a subcommand", args: []string{"help", "twilio-sms", "test"}, status: 0, want: []string{"Exit status: 0 only when Twilio accepted"}},
	})
}

func TestCheckExitStatus(t *testing.T) {
	caddyBin(t)
	root := repoRoot(t)
	dir := t.TempDir()
	writeFile(t, dir, "good.json", goodMapping)
	writeFile(t, dir, "bad.json", strings.Replace(goodMapping, `"Body": "message"`, `"Boddy": "message"`, 1))
	short := writeFile(t, dir, "short.Caddyfile", "{\n\tadmin off\n\tgrace_period 1s\n}\n:8080 {\n\ttwilio_sms generic {\n\t\tname short\n\t\tcredentials passthrough\n\t\ttimeout 3s\n\t}\n}\n")
	runCases(t, dir, []exitCase{
		{name: "every built-in", args: []string{"twilio-sms", "check"}, status: 0, want: []string{"ok    builtin:generic"}},
		{name: "a good file", args: []string{"twilio-sms", "check", "good.json"}, status: 0, want: []string{"ok    good.json"}},
		{name: "a bad file", args: []string{"twilio-sms", "check", "good.json", "bad.json"}, status: 1, want: []string{"FAIL  bad.json", "Boddy", "1 of 2 mappings have problems"}},
		{name: "no such built-in", args: []string{"twilio-sms", "check", "nosuch"}, status: 1, want: []string{"no such built-in mapping"}},
		{name: "the quick start config", args: []string{"twilio-sms", "check", "--config", filepath.Join(root, "Caddyfile")}, status: 0, want: []string{"ok    server srv", " /sms\n"}},
		{name: "grace_period shorter than a timeout", args: []string{"twilio-sms", "check", "--config", short}, status: 1, want: []string{"FAIL  server srv0 (short)", "grace_period (1s) is shorter"}},
		{name: "missing config file", args: []string{"twilio-sms", "check", "--config", "missing.Caddyfile"}, status: 1, want: []string{"no such file or directory"}},
		{name: "mappings and --config", args: []string{"twilio-sms", "check", "--config", short, "generic"}, status: 2, want: []string{"give either mappings or --config, not both"}},
		{name: "unknown flag", args: []string{"twilio-sms", "check", "--bogus"}, status: 2, want: []string{"unknown flag: --bogus"}},
	})
}

func TestExplainExitStatus(t *testing.T) {
	caddyBin(t)
	root := repoRoot(t)
	quick := filepath.Join(root, "Caddyfile")
	dir := t.TempDir()
	writeFile(t, dir, "request.http", sample)
	writeFile(t, dir, "invalid.http", invalid)
	runCases(t, dir, []exitCase{
		{name: "a request the route would send", args: []string{"twilio-sms", "explain", "--config", quick, "--request", "request.http"}, status: 0,
			want: []string{"Twilio request (account main):", "/2010-04-01/Accounts/" + account + "/Messages.json", "Body=Your code is 123456"}},
		{name: "from stdin", stdin: sample, args: []string{"twilio-sms", "explain", "--config", quick, "--request", "-"}, status: 0, want: []string{"Twilio request (account main):"}},
		{name: "a request the route would refuse", args: []string{"twilio-sms", "explain", "--config", quick, "--request", "invalid.http"}, status: 1,
			want: []string{"Nothing would be sent (invalid)", "HTTP 400 Bad Request", "the route would refuse this request (invalid)"}},
		{name: "no route for the path", args: []string{"twilio-sms", "explain", "--config", quick, "--request", "request.http", "--path", "/nowhere"}, status: 1,
			want: []string{"no twilio_sms handler matches path /nowhere"}},
		{name: "not HTTP", stdin: "hello", args: []string{"twilio-sms", "explain", "--config", quick, "--request", "-"}, status: 1, want: []string{"it must be raw HTTP/1.1"}},
		{name: "missing --request", args: []string{"twilio-sms", "explain", "--config", quick}, status: 2, want: []string{"--request is required"}},
		{name: "missing --config", args: []string{"twilio-sms", "explain", "--request", "request.http"}, status: 2, want: []string{"--config is required"}},
		{name: "an argument", args: []string{"twilio-sms", "explain", "--config", quick, "--request", "request.http", "extra"}, status: 2, want: []string{`unexpected argument "extra"`}},
	})
}

// quickStartLock serialises the tests that need the quick start's simulator
// port 127.0.0.1:8081 (in this package, and with anything else that takes
// the same lock).
func quickStartLock(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "caddy-twilio-sms-quickstart-8081.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
}

func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

// TestTestExitStatus: `caddy twilio-sms test --config Caddyfile --to
// +15005550006` on the shipped quick start exits 0 with nothing running: the
// command starts the Caddyfile's own simulator on 127.0.0.1:8081.
func TestTestExitStatus(t *testing.T) {
	caddyBin(t)
	root := repoRoot(t)
	quick := filepath.Join(root, "Caddyfile")
	dir := t.TempDir()
	writeFile(t, dir, "request.http", sample)
	route := func(name, token string) string {
		return writeFile(t, dir, name, fmt.Sprintf(
			"{\n\tadmin off\n}\n:0 {\n\ttwilio_sms generic {\n\t\taccount_sid %s\n\t\tauth_token %s\n\t\tfrom +15005550006\n\t\tapi_url http://127.0.0.1:1\n\t\tretries 0\n\t}\n}\n", account, token))
	}
	unreachable := route("unreachable.Caddyfile", "some-token")
	noToken := route("notoken.Caddyfile", "{env.CADDY_TWILIO_SMS_NO_SUCH_TOKEN}")
	quickStartLock(t)
	if listening("127.0.0.1:8081") {
		t.Skip("something listens on 127.0.0.1:8081 (the quick start running?): the test would not show that the command starts the simulator")
	}
	runCases(t, dir, []exitCase{
		{name: "quick start, nothing running", args: []string{"twilio-sms", "test", "--config", quick, "--to", "+15005550006"}, status: 0,
			want: []string{"Started the config's twilio_simulator", "on 127.0.0.1:8081 for this test", "Twilio accepted the message: sid SM", `"ok":true`}},
		{name: "quick start, sample request", args: []string{"twilio-sms", "test", "--config", quick, "--request", "request.http"}, status: 0,
			want: []string{"Twilio accepted the message"}},
		{name: "refused by Twilio", args: []string{"twilio-sms", "test", "--config", quick, "--to", "+15005550001"}, status: 1,
			want: []string{"Twilio refused: 21211", "the test message was not accepted (rejected)"}},
		{name: "invalid number", args: []string{"twilio-sms", "test", "--config", quick, "--to", "12"}, status: 1,
			want: []string{"Nothing was sent", "the test message was not accepted (invalid)"}},
		{name: "Twilio unreachable", args: []string{"twilio-sms", "test", "--config", unreachable, "--to", "+15005550006"}, status: 1,
			want: []string{"Nothing was sent: Twilio could not be reached", "the test message was not accepted (unreachable)"}},
		{name: "provisioning fails", args: []string{"twilio-sms", "test", "--config", noToken, "--to", "+15005550006"}, status: 1,
			want: []string{"auth_token (or api_key) is required"}},
		{name: "neither --to nor --request", args: []string{"twilio-sms", "test", "--config", quick}, status: 2, want: []string{"give either --to (with --message) or --request"}},
		{name: "--message with --request", args: []string{"twilio-sms", "test", "--config", quick, "--request", "request.http", "--message", "x"}, status: 2, want: []string{"--message goes with --to"}},
		{name: "missing --config", args: []string{"twilio-sms", "test", "--to", "+15005550006"}, status: 2, want: []string{"--config is required"}},
	})
	if listening("127.0.0.1:8081") {
		t.Errorf("127.0.0.1:8081 still listens after the commands ended")
	}
}
