package caddymodule

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/simulator"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twiliotest"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// runCommand runs `caddy twilio-sms <args>` in-process and returns its output
// and the exit status caddy would exit with. The commands run as in caddy but
// through a wrapper that records the status the way caddycmd.Main derives it
// from caddycmd.WrapCommandFuncForCobra: a status above 1 is the exit status,
// otherwise an error exits 1 and no error exits 0 (so a body that reports
// status 1 without an error would exit 0, and the tests would see it). The
// error Caddy would log is appended to stderr. The built binary's statuses
// are checked in test/cmd.
func runCommand(t *testing.T, stdin string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ran := false
	wrap := func(cmd *cobra.Command, body caddycmd.CommandFunc) error {
		ran = true
		code, err := body(caddycmd.Flags{FlagSet: cmd.Flags()})
		switch {
		case code > 1:
			status = code
		case err != nil:
			status = 1
		default:
			status = 0
		}
		if err != nil {
			fmt.Fprintln(&errOut, err)
			return err
		}
		if code > 1 {
			return fmt.Errorf("exit status %d", code)
		}
		return nil
	}
	cmd := &cobra.Command{Use: "twilio-sms"}
	addCommands(cmd, wrap)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	if args == nil {
		args = []string{} // nil makes cobra read os.Args, the test binary's own flags
	}
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil && !ran {
		status = 1 // an error that did not come through Caddy's wrapper: caddy exits 1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), status
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

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

func TestCommandCheck(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", goodMapping)
	badSource := writeFile(t, dir, "source.json", strings.Replace(goodMapping, `"form:message"`, `"form_message"`, 1))
	badParam := writeFile(t, dir, "param.json", strings.Replace(goodMapping, `"Body": "message"`, `"Boddy": "message"`, 1))
	badKey := writeFile(t, dir, "key.json", strings.Replace(goodMapping, `"required": true}`, `"required": true, "maxlen": 5}`, 1))
	badExpr := writeFile(t, dir, "expr.json", strings.Replace(goodMapping, `"Body": "message"`, `"Body": "mesage"`, 1))
	badJSON := writeFile(t, dir, "syntax.json", strings.Replace(goodMapping, `"fields": [`, `"fields": [,`, 1))

	tests := []struct {
		name   string
		args   []string
		status int
		want   []string
	}{
		{"every built-in", nil, 0, []string{"ok    builtin:generic"}},
		{"built-in by name", []string{"generic"}, 0, []string{"ok    builtin:generic"}},
		{"good file", []string{good}, 0, []string{"ok    " + good}},
		{"bad source", []string{badSource}, 1, []string{"FAIL  " + badSource, badSource + `:5:34: fields[1].from[0]: source "form_message" must be "kind:arg"`}},
		{"misspelt parameter", []string{badParam}, 1, []string{badParam + `:7:40: twilio.messages.Boddy: "Boddy" is not a parameter of Twilio's messages API`}},
		{"unknown key", []string{badKey}, 1, []string{badKey + `:5:70: fields[1].maxlen: unknown key "maxlen"`}},
		{"unknown name in an expression (compile)", []string{badExpr}, 1, []string{badExpr + `:7:47: twilio.messages.Body: unknown name mesage`}},
		{"syntax error", []string{badJSON}, 1, []string{badJSON + `:3:14: not valid JSON: invalid character ','`}},
		{"unknown built-in", []string{"nosuch"}, 1, []string{"FAIL  builtin:nosuch", "no such built-in mapping"}},
		{"missing file", []string{filepath.Join(dir, "missing.json")}, 1, []string{"no such file or directory"}},
		{"good and bad together", []string{good, badSource, "generic"}, 1, []string{"ok    " + good, "FAIL  " + badSource, "ok    builtin:generic", "1 of 3 mappings have problems"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, status := runCommand(t, "", append([]string{"check"}, tt.args...)...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", status, tt.status, out, errOut)
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks (or misorders) %q:\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
	// Every built-in is listed when no argument is given.
	out, _, _ := runCommand(t, "", "check")
	for _, name := range mappings.Names() {
		if !strings.Contains(out, "builtin:"+name) {
			t.Errorf("check without arguments skipped %s:\n%s", name, out)
		}
	}
}

// testConfig writes a Caddyfile with two twilio_sms routes in front of a
// contract-checked simulator and returns its path.
func testConfig(t *testing.T) string {
	t.Helper()
	srv, _, _ := twiliotest.NewServer(t, simulator.Config{Accounts: []simulator.Account{{SID: testAccount, AuthToken: testToken}}})
	return writeFile(t, t.TempDir(), "Caddyfile", fmt.Sprintf(`{
	admin off
	auto_https off
}
:0 {
	route /sms {
		twilio_sms generic {
			account_sid %[1]s
			auth_token  %[2]s
			from        +15005550006
			api_url     %[3]s
			studio_url  %[3]s
			timeout     3s
			dedup off
		}
	}
	route /voice {
		twilio_sms generic {
			account_sid %[1]s
			auth_token  %[2]s
			from        +15005550006
			api_url     %[3]s
			channel     voice
			dedup off
		}
	}
}
`, testAccount, testToken, srv.URL))
}

const sampleRequest = "POST /sms HTTP/1.1\nHost: adapter.example\nContent-Type: application/x-www-form-urlencoded\n\nto=%2B15005550006&message=Your+code+is+123456\n"

func TestCommandExplain(t *testing.T) {
	config := testConfig(t)
	dir := t.TempDir()
	reqFile := writeFile(t, dir, "request.http", sampleRequest)
	invalidFile := writeFile(t, dir, "invalid.http", "POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{\"to\":\"+15005550006\"}\n")

	tests := []struct {
		name   string
		stdin  string
		args   []string
		status int
		want   []string
		absent []string
	}{
		{
			name: "from a file, route chosen by the request's path",
			args: []string{"--config", config, "--request", reqFile}, status: 0,
			want: []string{
				"Mapping: generic",
				"Twilio request (account main):",
				"  POST http://127.0.0.1:",
				"/2010-04-01/Accounts/" + testAccount + "/Messages.json",
				"  Basic user: " + testAccount + "  password: ••••",
				"  Body=Your code is 123456\n  From=+15005550006\n  To=+15005550006\n",
				"If Twilio accepts (SM… queued), the caller gets:\n  HTTP 200 OK\n  Content-Type: application/json\n",
				`"sid":"SM00000000000000000000000000000000"`,
				"If Twilio refuses (21211",
				"HTTP 400 Bad Request",
				`"code":21211`,
			},
			absent: []string{testToken},
		},
		{
			name: "from stdin, voice route chosen by --path", stdin: sampleRequest,
			args: []string{"--config", config, "--request", "-", "--path", "/voice"}, status: 0,
			want: []string{"/Calls.json", "  TimeLimit=120\n", "  Twiml=<Response><Say", "If Twilio accepts (CA… queued)", `"sid":"CA00000000000000000000000000000000"`},
		},
		{
			name: "invalid request: exit status 1, as the route would refuse it",
			args: []string{"--config", config, "--request", invalidFile}, status: 1,
			want:   []string{`Nothing would be sent (invalid): field "message" is required`, "HTTP 400 Bad Request", `"field":"message"`},
			absent: []string{"Twilio request"},
		},
		{
			name: "no route for the path",
			args: []string{"--config", config, "--request", reqFile, "--path", "/nowhere"}, status: 1,
			want: []string{"no twilio_sms handler matches path /nowhere"},
		},
		{
			name: "missing --request", args: []string{"--config", config}, status: 2,
			want: []string{"--request is required"},
		},
		{
			name: "not HTTP", stdin: "hello",
			args: []string{"--config", config, "--request", "-"}, status: 1,
			want: []string{"it must be raw HTTP/1.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, status := runCommand(t, tt.stdin, append([]string{"explain"}, tt.args...)...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", status, tt.status, out, errOut)
			}
			all := out + errOut
			rest := all
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks (or misorders) %q:\n%s", w, all)
				}
				rest = rest[i+len(w):]
			}
			for _, a := range tt.absent {
				if strings.Contains(all, a) {
					t.Errorf("output contains %q:\n%s", a, all)
				}
			}
		})
	}
}

func TestCommandTest(t *testing.T) {
	config := testConfig(t)
	reqFile := writeFile(t, t.TempDir(), "request.http", sampleRequest)
	tests := []struct {
		name   string
		stdin  string
		args   []string
		status int
		want   []string
	}{
		{
			name: "accepted", args: []string{"--path", "/sms", "--to", "+15005550006", "--message", "Your code is 123456"}, status: 0,
			want: []string{"Twilio accepted the message: sid SM", ", status queued, account main", "The caller got:\n  HTTP 200 OK", `"ok":true`},
		},
		{
			name: "accepted call", args: []string{"--path", "/voice", "--to", "+15005550006"}, status: 0,
			want: []string{"Twilio accepted the call: sid CA"},
		},
		{
			name: "refused by Twilio", args: []string{"--path", "/sms", "--to", "+15005550001"}, status: 1,
			want: []string{"Twilio refused: 21211 the 'To' number is not a valid phone number (https://www.twilio.com/docs/errors/21211)", "HTTP 400 Bad Request"},
		},
		{
			name: "invalid number, nothing sent", args: []string{"--path", "/sms", "--to", "12"}, status: 1,
			want: []string{`Nothing was sent: field "to"`, `"outcome":"invalid"`},
		},
		{
			name: "sample request from a file", args: []string{"--request", reqFile}, status: 0,
			want: []string{"Twilio accepted the message"},
		},
		{
			name: "sample request from stdin", stdin: sampleRequest, args: []string{"--request", "-"}, status: 0,
			want: []string{"Twilio accepted the message"},
		},
		{
			name: "several routes and no --path", args: []string{"--to", "+15005550006"}, status: 1,
			want: []string{"2 twilio_sms handlers", "choose one with --path"},
		},
		{
			name: "neither --to nor --request", args: []string{"--path", "/sms"}, status: 2,
			want: []string{"give either --to (with --message) or --request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"test", "--config", config}, tt.args...)
			out, errOut, status := runCommand(t, tt.stdin, args...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", status, tt.status, out, errOut)
			}
			all := out + errOut
			rest := all
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks (or misorders) %q:\n%s", w, all)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(all, testToken) {
				t.Errorf("output contains the auth token:\n%s", all)
			}
		})
	}
}

func TestCommandTestUnreachable(t *testing.T) {
	config := writeFile(t, t.TempDir(), "Caddyfile", fmt.Sprintf(`:0 {
	twilio_sms generic {
		account_sid %s
		auth_token  %s
		from        +15005550006
		api_url     http://127.0.0.1:1
		retries     0
	}
}
`, testAccount, testToken))
	out, errOut, status := runCommand(t, "", "test", "--config", config, "--to", "+15005550006")
	if status != 1 || !strings.Contains(out, "Nothing was sent: Twilio could not be reached") {
		t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errOut)
	}
}

func TestCommandTestNoSender(t *testing.T) {
	config := writeFile(t, t.TempDir(), "Caddyfile", fmt.Sprintf(`:0 {
	twilio_sms generic {
		account_sid %s
		auth_token  %s
		api_url     http://127.0.0.1:1
	}
}
`, testAccount, testToken))
	out, errOut, status := runCommand(t, "", "test", "--config", config, "--to", "+15005550006")
	if status != 1 || !strings.Contains(out, `Nothing was sent: field "from" cannot be chosen: no sender can send sms to US`) {
		t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errOut)
	}
}

func TestCommandNonGenericNeedsRequest(t *testing.T) {
	dir := t.TempDir()
	custom := writeFile(t, dir, "custom.json", goodMapping)
	config := writeFile(t, dir, "Caddyfile", fmt.Sprintf(`:0 {
	twilio_sms {
		mapping     %s
		account_sid %s
		auth_token  %s
		api_url     http://127.0.0.1:1
	}
}
`, custom, testAccount, testToken))
	out, errOut, status := runCommand(t, "", "test", "--config", config, "--to", "+15005550006")
	if status != 1 || !strings.Contains(errOut, "this route uses mapping custom: give a sample request in its dialect with --request") {
		t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errOut)
	}
}

func TestCommandRegistered(t *testing.T) {
	cmd := &cobra.Command{Use: "twilio-sms"}
	twilioSMSCommands(cmd)
	var names []string
	for _, c := range cmd.Commands() {
		names = append(names, c.Name())
	}
	if got := strings.Join(names, ","); got != "check,explain,test" {
		t.Errorf("subcommands %s", got)
	}
}

// TestCommandCheckConfig: check --config fails a route whose timeout outlives
// the server's grace_period (in-flight requests would be sent but never
// answered at a reload), names the route, and warns about literal secrets
// without printing them.
func TestCommandCheckConfig(t *testing.T) {
	dir := t.TempDir()
	token := newToken()
	noteSecret(token)
	config := func(grace string) string {
		global := "{\n\tadmin off\n"
		if grace != "" {
			global += "\tgrace_period " + grace + "\n"
		}
		global += "}\n"
		return global + `
:8080 {
	route /sms {
		twilio_sms generic {
			name        graced
			account_sid AC00000000000000000000000000000001
			auth_token  ` + token + `
			from        +15005550006
			timeout     4s
		}
	}
}
`
	}
	tests := []struct {
		name, grace string
		status      int
		want        string
	}{
		{"no grace period: Caddy waits for every request", "", 0, "ok    server srv0 /sms (graced)"},
		{"grace period longer than the timeout", "10s", 0, "ok    server srv0 /sms (graced)"},
		{"grace period shorter than the timeout", "2s", 1, "grace_period (2s) is shorter than the route's timeout (4s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, dir, "Caddyfile", config(tt.grace))
			out, errOut, status := runCommand(t, "", "check", "--config", file)
			if status != tt.status || !strings.Contains(out, tt.want) {
				t.Errorf("status %d, want %d; output %q lacks %q", status, tt.status, out, tt.want)
			}
			if !strings.Contains(errOut, "auth_token is a literal secret") || strings.Contains(out+errOut, token) {
				t.Errorf("stderr %q: want a literal-secret warning naming auth_token, never its value", errOut)
			}
		})
	}
}

// TestCommandUsageExitStatus: usage errors exit 2, as the help says, with the
// problem and the usage line on stderr.
func TestCommandUsageExitStatus(t *testing.T) {
	config := writeFile(t, t.TempDir(), "Caddyfile", ":0 {\n\ttwilio_sms generic {\n\t\tcredentials passthrough\n\t}\n}\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "give a subcommand: check, explain or test"},
		{"unknown subcommand", []string{"chek"}, `unknown subcommand "chek" (check, explain or test); did you mean check?`},
		{"unknown flag on the command", []string{"--bogus"}, "unknown flag: --bogus"},
		{"check: unknown flag", []string{"check", "--bogus"}, "unknown flag: --bogus"},
		{"check: mappings and --config", []string{"check", "--config", config, "generic"}, "give either mappings or --config, not both"},
		{"explain: no --config", []string{"explain", "--request", "-"}, "--config is required"},
		{"explain: no --request", []string{"explain", "--config", config}, "--request is required"},
		{"explain: an argument", []string{"explain", "--config", config, "--request", "-", "extra"}, `unexpected argument "extra"`},
		{"test: no --config", []string{"test", "--to", "+15005550006"}, "--config is required"},
		{"test: neither --to nor --request", []string{"test", "--config", config}, "give either --to (with --message) or --request"},
		{"test: both --to and --request", []string{"test", "--config", config, "--to", "+15005550006", "--request", "-"}, "give either --to (with --message) or --request"},
		{"test: --message with --request", []string{"test", "--config", config, "--request", "-", "--message", "hi"}, "--message goes with --to"},
		{"test: flag without its value", []string{"test", "--config", config, "--to"}, "flag needs an argument: --to"},
		{"test: an argument", []string{"test", "--config", config, "--to", "+15005550006", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, status := runCommand(t, "", tt.args...)
			if status != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "Usage: ") {
				t.Errorf("exit status %d, want 2 with %q and the usage line on stderr\nstdout:\n%s\nstderr:\n%s", status, tt.want, out, errOut)
			}
		})
	}
	// --help is not an error.
	if out, errOut, status := runCommand(t, "", "test", "--help"); status != 0 || !strings.Contains(out, "Exit status: 0 only when Twilio accepted") {
		t.Errorf("test --help: status %d\nstdout:\n%s\nstderr:\n%s", status, out, errOut)
	}
}

func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

// simulatorConfig is a quick-start style Caddyfile: a generic route whose
// api_url is the simulator site of the same file, on port simPort.
func simulatorConfig(t *testing.T, simPort string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "Caddyfile", fmt.Sprintf(`{
	admin off
	auto_https off
}

:0 {
	route /sms {
		twilio_sms generic {
			account_sid %[1]s
			auth_token  %[2]s
			from        +15005550006
			api_url     http://127.0.0.1:%[3]s
			studio_url  http://127.0.0.1:%[3]s
			timeout     3s
			dedup       off
		}
	}
	route /voice {
		twilio_sms generic {
			account_sid %[1]s
			auth_token  %[2]s
			from        +15005550006
			api_url     http://localhost:%[3]s
			channel     voice
			dedup       off
		}
	}
}

http://127.0.0.1:%[3]s {
	bind 127.0.0.1
	twilio_simulator {
		account %[1]s %[2]s
	}
}
`, testAccount, testToken, simPort))
}

// TestCommandTestStartsConfigSimulator: with nothing listening at the route's
// api_url, test starts the config's own twilio_simulator there for its
// duration (also for localhost against a 127.0.0.1 site), and stops it after.
func TestCommandTestStartsConfigSimulator(t *testing.T) {
	port := freePort(t)
	config := simulatorConfig(t, port)
	addr := "127.0.0.1:" + port
	for _, tt := range []struct{ path, want string }{
		{"/sms", "Twilio accepted the message: sid SM"},
		{"/voice", "Twilio accepted the call: sid CA"},
	} {
		out, errOut, status := runCommand(t, "", "test", "--config", config, "--path", tt.path, "--to", "+15005550006")
		if status != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit status %d, want 0 and %q\nstdout:\n%s\nstderr:\n%s", tt.path, status, tt.want, out, errOut)
		}
		if want := "Started the config's twilio_simulator (server srv"; !strings.Contains(errOut, want) {
			t.Errorf("%s: stderr lacks %q:\n%s", tt.path, want, errOut)
		}
		if listening(addr) {
			t.Errorf("%s: the simulator still listens on %s after the command", tt.path, addr)
		}
	}
	// A refusal from the started simulator is still exit status 1.
	out, errOut, status := runCommand(t, "", "test", "--config", config, "--path", "/sms", "--to", "+15005550001")
	if status != 1 || !strings.Contains(out, "Twilio refused: 21211") {
		t.Errorf("refused: exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", status, out, errOut)
	}
}

// TestCommandTestUsesRunningSimulator: when something already listens at the
// api_url (the config is running), test sends there and starts nothing.
func TestCommandTestUsesRunningSimulator(t *testing.T) {
	srv, _, _ := twiliotest.NewServer(t, simulator.Config{Accounts: []simulator.Account{{SID: testAccount, AuthToken: testToken}}})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	config := simulatorConfig(t, u.Port())
	out, errOut, status := runCommand(t, "", "test", "--config", config, "--path", "/sms", "--to", "+15005550006")
	if status != 0 || !strings.Contains(out, "Twilio accepted the message") || strings.Contains(errOut, "Started the config's twilio_simulator") {
		t.Errorf("exit status %d, want 0 without starting a simulator\nstdout:\n%s\nstderr:\n%s", status, out, errOut)
	}
}

// TestCommandTestQuickStart: `caddy twilio-sms test --config Caddyfile --to
// +15005550006` on the shipped quick start succeeds with nothing running. The
// simulator's port is moved to a free one so that the test does not depend on
// 8081 (test/cmd runs the file as shipped, in-process and on the binary).
func TestCommandTestQuickStart(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	text := strings.ReplaceAll(string(data), "127.0.0.1:8081", "127.0.0.1:"+port)
	if strings.Count(text, "127.0.0.1:"+port) < 2 {
		t.Fatalf("the quick start Caddyfile no longer has its simulator at 127.0.0.1:8081 (api_url and site address):\n%s", data)
	}
	config := writeFile(t, t.TempDir(), "Caddyfile", text)
	out, errOut, status := runCommand(t, "", "test", "--config", config, "--to", "+15005550006")
	if status != 0 || !strings.Contains(out, "Twilio accepted the message") || !strings.Contains(errOut, "on 127.0.0.1:"+port+" for this test") {
		t.Errorf("exit status %d, want 0 with the simulator started on 127.0.0.1:%s\nstdout:\n%s\nstderr:\n%s", status, port, out, errOut)
	}
}
