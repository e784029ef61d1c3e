package caddymodule

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "twilio-sms",
		Usage: "check|explain|test ...",
		Short: "Checks mapping files, explains and tests twilio_sms routes",
		Long: `
Tools for the twilio_sms handler:

  check [<mapping>...]    validate mapping files (or built-in names) against
                          the schema and by compiling them; no argument
                          checks every built-in mapping; --config checks
                          every route of a config
  explain                 show what a sample request would send to Twilio and
                          what the caller would get back, without sending
  test                    send one test message through a route, like a
                          product's "Send test SMS" button

Exit status, for every subcommand:

  0  success: every mapping valid, the request would be sent, the test
     message accepted by Twilio
  1  failure: a mapping or route has a problem, the route would refuse the
     request, Twilio did not accept the test message, or the config or
     request file cannot be read
  2  usage: no or an unknown subcommand, an unknown flag or argument, a
     missing or conflicting flag`,
		CobraFunc: func(cmd *cobra.Command) { addCommands(cmd, caddyWrap) },
	})
}

// Exit statuses of the twilio-sms commands.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// wrapFunc runs a command body as cobra's RunE. In caddy it is caddyWrap:
// Caddy's own caddycmd.WrapCommandFuncForCobra, through which caddycmd.Main
// exits with the body's status (a status above 1 exits with that status; an
// error exits 1 and is logged through Caddy's logger). The in-process tests
// pass one that records the status instead.
type wrapFunc func(cmd *cobra.Command, body caddycmd.CommandFunc) error

func caddyWrap(cmd *cobra.Command, body caddycmd.CommandFunc) error {
	return caddycmd.WrapCommandFuncForCobra(body)(cmd, nil)
}

// twilioSMSCommands adds the subcommands to the twilio-sms command, as caddy
// runs them.
func twilioSMSCommands(cmd *cobra.Command) { addCommands(cmd, caddyWrap) }

// addCommands sets up the twilio-sms command: its subcommands, and exit
// status 2 for a missing or unknown subcommand and for flag errors.
func addCommands(cmd *cobra.Command, wrap wrapFunc) {
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageExit(cmd, wrap, "give a subcommand: check, explain or test")
		}
		msg := fmt.Sprintf("unknown subcommand %q (check, explain or test)", args[0])
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageExit(cmd, wrap, msg)
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageExit(c, wrap, err.Error())
	})
	cmd.AddCommand(checkCommand(wrap), explainCommand(wrap), testCommand(wrap))
}

// usageExit prints a usage error and the command's usage line to stderr and
// ends the command with exit status 2.
func usageExit(cmd *cobra.Command, wrap wrapFunc, msg string) error {
	return wrap(cmd, func(caddycmd.Flags) (int, error) {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s\nUsage: %s\nRun '%s --help' for more.\n", msg, cmd.UseLine(), cmd.CommandPath())
		return exitUsage, nil
	})
}

// noArgs refuses positional arguments with exit status 2.
func noArgs(wrap wrapFunc) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageExit(cmd, wrap, fmt.Sprintf("unexpected argument %q (this subcommand takes only flags)", args[0]))
		}
		return nil
	}
}

// failure is exit status 1 with the error Caddy logs; Caddy's wrapper exits 0
// for status 1 without an error, so every failure carries one.
func failure(format string, args ...any) (int, error) {
	return exitFailure, fmt.Errorf(format, args...)
}

// --- check ---

func checkCommand(wrap wrapFunc) *cobra.Command {
	var config, adapter string
	cmd := &cobra.Command{
		Use:   "check [<mapping>...] | check --config <file>",
		Short: "Validate mapping files or built-in mappings",
		Long: `
Validates each mapping (a built-in name such as generic, or a path to a .json
file) against the mapping schema and by compiling it, as Caddy does when it
provisions a route. Problems are printed as file:line:col: part: message.
Without arguments every built-in mapping is checked.

With --config, checks a whole Caddy config instead: the mapping of every
twilio_sms route, and that the HTTP server's grace_period is not shorter than
any route's timeout (a reload or stop would cut requests that Twilio already
took). Literal secrets are reported as warnings.

Exit status: 0 when every mapping (every route) is valid; 1 when one has a
problem or the config cannot be read or adapted; 2 for a usage error (both
mappings and --config, an unknown flag).`,
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if config != "" && len(args) > 0 {
			return usageExit(cmd, wrap, "give either mappings or --config, not both")
		}
		return wrap(cmd, func(caddycmd.Flags) (int, error) {
			if config != "" {
				return checkConfig(cmd.OutOrStdout(), cmd.ErrOrStderr(), config, adapter)
			}
			return checkMappings(cmd.OutOrStdout(), args)
		})
	}
	cmd.Flags().StringVarP(&config, "config", "c", "", "Caddy configuration file (Caddyfile or JSON) to check as a whole")
	cmd.Flags().StringVarP(&adapter, "adapter", "a", "", "Name of the config adapter (default: caddyfile for files named Caddyfile or *.caddyfile, else JSON)")
	return cmd
}

// checkMappings checks mappings by name or path; none means every built-in.
func checkMappings(out io.Writer, refs []string) (int, error) {
	if len(refs) == 0 {
		refs = mappings.Names()
	}
	bad := 0
	for _, ref := range refs {
		problems := checkMapping(ref)
		if len(problems) == 0 {
			fmt.Fprintf(out, "ok    %s\n", displayRef(ref))
			continue
		}
		bad++
		fmt.Fprintf(out, "FAIL  %s\n", displayRef(ref))
		for _, p := range problems {
			fmt.Fprintf(out, "  %s\n", strings.ReplaceAll(p, "\n", "\n    "))
		}
	}
	if bad > 0 {
		if len(refs) > 1 {
			fmt.Fprintf(out, "%d of %d mappings have problems\n", bad, len(refs))
		}
		return failure("%d of %d mappings have problems", bad, len(refs))
	}
	return exitOK, nil
}

// checkConfig checks every twilio_sms route of a config: its mapping, and its
// timeout against the server's grace_period.
func checkConfig(out, stderr io.Writer, file, adapter string) (int, error) {
	cfg, err := adaptConfig(file, adapter, stderr)
	if err != nil {
		fmt.Fprintf(out, "FAIL  %s: %v\n", file, err)
		return failure("%s cannot be checked", file)
	}
	found, err := findHandlers(cfg)
	if err != nil {
		fmt.Fprintf(out, "FAIL  %s: %v\n", file, err)
		return failure("%s cannot be checked", file)
	}
	var doc struct {
		Apps struct {
			HTTP struct {
				GracePeriod caddy.Duration `json:"grace_period"`
			} `json:"http"`
		} `json:"apps"`
	}
	_ = json.Unmarshal(cfg, &doc)
	grace := time.Duration(doc.Apps.HTTP.GracePeriod)
	bad := 0
	for _, f := range found {
		var h Handler
		if err := json.Unmarshal(f.raw, &h); err != nil {
			fmt.Fprintf(out, "FAIL  %s: %v\n", f.where, err)
			bad++
			continue
		}
		route := f.where
		if h.Name != "" {
			route += " (" + h.Name + ")"
		}
		var problems []string
		ref := h.Mapping.Use
		if ref == "" {
			ref = defaultMapping
		}
		problems = append(problems, checkMapping(ref)...)
		timeout := time.Duration(h.Resilience.Timeout)
		if timeout == 0 {
			timeout = defaultTimeout
		}
		if grace > 0 && grace < timeout {
			problems = append(problems, fmt.Sprintf("the server's grace_period (%v) is shorter than the route's timeout (%v): a reload or stop would cut requests Twilio already took; raise grace_period or lower timeout", grace, timeout))
		}
		for _, name := range h.literalSecrets() {
			fmt.Fprintf(stderr, "warning: %s: %s is a literal secret; use {env.*} or {file.*} (the admin API and autosave.json show literals)\n", route, name)
		}
		if len(problems) == 0 {
			fmt.Fprintf(out, "ok    %s\n", route)
			continue
		}
		bad++
		fmt.Fprintf(out, "FAIL  %s\n", route)
		for _, p := range problems {
			fmt.Fprintf(out, "  %s\n", strings.ReplaceAll(p, "\n", "\n    "))
		}
	}
	if bad > 0 {
		return failure("%s: %d of %d twilio_sms routes have problems", file, bad, len(found))
	}
	return exitOK, nil
}

func displayRef(ref string) string {
	if mapping.IsBuiltin(ref) {
		return "builtin:" + ref
	}
	return ref
}

// checkMapping returns the problems of one mapping, each as one line. It
// loads and compiles the mapping exactly as provisioning does, so `check` and
// `caddy run` report the same problems in the same words.
func checkMapping(ref string) []string {
	return mapping.Check(ref, mapping.Config{Phone: phone.Normalizer{}, WithoutRoute: true})
}

// --- explain and test: finding and provisioning a route's handler ---

type routeFlags struct {
	config, adapter, path, request string
	// reqPath is the sample request's path, used to choose among several
	// handlers when --path is not given.
	reqPath string
}

func (f *routeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "Caddy configuration file (Caddyfile or JSON)")
	cmd.Flags().StringVarP(&f.adapter, "adapter", "a", "", "Name of the config adapter (default: caddyfile for files named Caddyfile or *.caddyfile, else JSON)")
	cmd.Flags().StringVar(&f.path, "path", "", "Request path choosing the twilio_sms route when the config has several")
}

// loadedRoute is the twilio_sms handler a command runs, provisioned.
type loadedRoute struct {
	h *Handler
	// cfg is the whole JSON config the handler came from.
	cfg []byte
	// upstreams are the route's Twilio base URLs as configured (api_url and
	// studio_url of every account), placeholders resolved.
	upstreams []string
	cleanup   func()
}

// loadHandler finds the twilio_sms handler in the config and provisions it.
// The returned route's cleanup must be called.
func loadHandler(f *routeFlags, stderr io.Writer) (*loadedRoute, error) {
	cfg, err := adaptConfig(f.config, f.adapter, stderr)
	if err != nil {
		return nil, err
	}
	found, err := findHandlers(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.config, err)
	}
	path := f.path
	if path == "" && len(found) > 1 {
		path = f.reqPath
	}
	chosen, err := chooseHandler(found, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.config, err)
	}
	h := new(Handler)
	if err := decodeModule(chosen.raw, h); err != nil {
		return nil, fmt.Errorf("%s: twilio_sms handler at %s: %w", f.config, chosen.where, err)
	}
	upstreams := h.upstreamURLs()
	ctx, cancel := caddy.NewContext(commandContext())
	if err := h.Provision(ctx); err != nil {
		_ = h.Cleanup()
		cancel()
		return nil, fmt.Errorf("%s: %w", f.config, err)
	}
	// The command prints outcomes itself; the handler's own log lines would
	// only repeat them (and a dev logger is all a config-less context has).
	h.logger = zap.NewNop()
	return &loadedRoute{h: h, cfg: cfg, upstreams: upstreams, cleanup: func() { _ = h.Cleanup(); cancel() }}, nil
}

// commandContext is the context a command provisions a handler in: that of
// an empty config, so that what the handler logs while provisioning (a
// literal secret, an open route) goes through Caddy's default logger, as with
// `caddy run`. A context without a config logs through zap's development
// logger, which adds a stack trace to every warning.
func commandContext() caddy.Context {
	ctx, err := caddy.ProvisionContext(new(caddy.Config))
	if err != nil {
		return caddy.Context{Context: context.Background()}
	}
	return ctx
}

// decodeModule decodes a handler's JSON object into v as Caddy does: the
// "handler" key names the module, every other key must be a field of v.
func decodeModule(raw json.RawMessage, v any) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	delete(obj, "handler")
	clean, _ := json.Marshal(obj)
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// upstreamURLs returns the distinct api_url and studio_url values of the
// route's accounts, placeholders resolved, before provisioning fills in
// Twilio's defaults.
func (h *Handler) upstreamURLs() []string {
	repl := caddy.NewReplacer()
	var urls []string
	add := func(a AccountConfig) {
		for _, u := range []string{a.APIURL, a.StudioURL} {
			if u = repl.ReplaceKnown(u, ""); u != "" && !slices.Contains(urls, u) {
				urls = append(urls, u)
			}
		}
	}
	add(h.Account)
	for _, s := range h.Subaccount {
		add(s.AccountConfig)
	}
	for _, fb := range h.Fallback {
		add(fb)
	}
	return urls
}

// adaptConfig returns the JSON config, adapting a Caddyfile (or another
// adapter's format) first.
func adaptConfig(file, adapter string, stderr io.Writer) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if adapter == "" {
		base := strings.ToLower(filepath.Base(file))
		if filepath.Ext(base) != ".json" && (strings.HasPrefix(base, "caddyfile") || strings.HasSuffix(base, ".caddyfile")) {
			adapter = "caddyfile"
		}
	}
	if adapter == "" {
		return data, nil
	}
	a := caddyconfig.GetAdapter(adapter)
	if a == nil {
		return nil, fmt.Errorf("unknown config adapter %q", adapter)
	}
	out, warnings, err := a.Adapt(data, map[string]any{"filename": file})
	if err != nil {
		return nil, fmt.Errorf("adapting %s: %w", file, err)
	}
	for _, w := range warnings {
		if !strings.Contains(w.Message, "not formatted") {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	return out, nil
}

// foundHandler is one twilio_sms handler object in a config.
type foundHandler struct {
	raw json.RawMessage
	// where describes it for messages: server and route paths.
	where string
	// paths are the path matchers of each enclosing route, outermost first;
	// a route without a path matcher adds nothing.
	paths [][]string
}

// findHandlers walks apps.http.servers.*.routes, through subroute handlers, to
// every handler object with "handler": "twilio_sms".
func findHandlers(cfg []byte) ([]foundHandler, error) {
	var doc struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []jsonRoute `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("reading the JSON config: %w", err)
	}
	var found []foundHandler
	for _, name := range slices.Sorted(maps.Keys(doc.Apps.HTTP.Servers)) {
		walkRoutes(doc.Apps.HTTP.Servers[name].Routes, "server "+name, nil, func(handler string, f foundHandler) {
			if handler == "twilio_sms" {
				found = append(found, f)
			}
		})
	}
	if len(found) == 0 {
		return nil, errors.New("no twilio_sms handler in apps.http.servers")
	}
	return found, nil
}

type jsonRoute struct {
	Match  []map[string]json.RawMessage `json:"match"`
	Handle []json.RawMessage            `json:"handle"`
}

// walkRoutes calls visit with every handler object in routes, through
// subroute handlers, and where it stands.
func walkRoutes(routes []jsonRoute, where string, paths [][]string, visit func(handler string, f foundHandler)) {
	for _, rt := range routes {
		var ps []string
		for _, set := range rt.Match {
			var p []string
			if raw, ok := set["path"]; ok && json.Unmarshal(raw, &p) == nil {
				ps = append(ps, p...)
			}
		}
		inner, innerWhere := paths, where
		if len(ps) > 0 {
			inner = append(slices.Clone(paths), ps)
			innerWhere = where + " " + strings.Join(ps, ",")
		}
		for _, raw := range rt.Handle {
			var h struct {
				Handler string      `json:"handler"`
				Routes  []jsonRoute `json:"routes"`
			}
			if json.Unmarshal(raw, &h) != nil {
				continue
			}
			visit(h.Handler, foundHandler{raw: raw, where: innerWhere, paths: inner})
			if h.Handler == "subroute" {
				walkRoutes(h.Routes, innerWhere, inner, visit)
			}
		}
	}
}

// chooseHandler picks the only handler, or the one whose path matchers all
// match path.
func chooseHandler(found []foundHandler, path string) (foundHandler, error) {
	if len(found) == 1 && path == "" {
		return found[0], nil
	}
	list := func(fs []foundHandler) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.where)
		}
		return strings.Join(s, "; ")
	}
	if path == "" {
		return foundHandler{}, fmt.Errorf("%d twilio_sms handlers (%s): choose one with --path", len(found), list(found))
	}
	var matching []foundHandler
	for _, f := range found {
		if pathMatches(f.paths, path) {
			matching = append(matching, f)
		}
	}
	switch len(matching) {
	case 1:
		return matching[0], nil
	case 0:
		return foundHandler{}, fmt.Errorf("no twilio_sms handler matches path %s (handlers: %s)", path, list(found))
	}
	return foundHandler{}, fmt.Errorf("%d twilio_sms handlers match path %s (%s): give a more specific --path", len(matching), path, list(matching))
}

func pathMatches(levels [][]string, path string) bool {
	r, _ := http.NewRequest(http.MethodPost, "http://localhost", nil)
	r.URL.Path = path
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	for _, ps := range levels {
		m := caddyhttp.MatchPath(slices.Clone(ps))
		if err := m.Provision(caddy.Context{}); err != nil || !m.Match(r) {
			return false
		}
	}
	return true
}

// readRequest parses a raw HTTP/1.1 request from a file or "-" (stdin). A
// request written by hand without Content-Length gets the rest of the input
// as its body, less trailing newlines.
func readRequest(name string, stdin io.Reader) (*http.Request, error) {
	var src io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		src = f
	}
	data, err := io.ReadAll(io.LimitReader(src, 16<<20))
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(bytes.NewReader(bytes.TrimLeft(data, "\r\n")))
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("reading the request from %s: %w (it must be raw HTTP/1.1: a request line, headers, a blank line, the body)", name, err)
	}
	if r.ContentLength <= 0 && len(r.TransferEncoding) == 0 {
		rest, _ := io.ReadAll(br)
		rest = bytes.TrimRight(rest, "\r\n")
		r.Body = io.NopCloser(bytes.NewReader(rest))
		r.ContentLength = int64(len(rest))
	} else {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("reading the request body from %s: %w", name, err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if r.Host == "" {
		r.Host = "localhost"
	}
	return r, nil
}

// --- explain ---

func explainCommand(wrap wrapFunc) *cobra.Command {
	var f routeFlags
	cmd := &cobra.Command{
		Use:   "explain --config <Caddyfile> [--path /sms] --request <file|->",
		Short: "Show what a sample request would send to Twilio, without sending",
		Long: `
Reads a sample request (raw HTTP/1.1, as the product sends it) from a file or
stdin, runs it through the twilio_sms route of the config up to, but not
including, the call to Twilio, and prints the Twilio request per account
(secrets masked) and the answers the product would get: when Twilio accepts,
when Twilio refuses (21211), and when the request is invalid.

Example request file:

  POST /sms HTTP/1.1
  Host: localhost
  Content-Type: application/x-www-form-urlencoded

  to=%2B15005550006&message=Your+code+is+123456

Exit status: 0 when the route would send the request to Twilio; 1 when the
route would refuse it (invalid, or refused by a guard) or the config or the
request cannot be read or no route matches; 2 for a usage error (no --config
or --request, an unknown flag or argument).`,
		Args:          noArgs(wrap),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case f.config == "":
				return usageExit(cmd, wrap, "--config is required (the Caddyfile or JSON config with the twilio_sms route)")
			case f.request == "":
				return usageExit(cmd, wrap, "--request is required (a file with a raw HTTP request, or - for stdin)")
			}
			return wrap(cmd, func(caddycmd.Flags) (int, error) { return runExplain(cmd, &f) })
		},
	}
	f.add(cmd)
	cmd.Flags().StringVarP(&f.request, "request", "r", "", "File with a raw HTTP/1.1 request, or - for stdin")
	return cmd
}

func runExplain(cmd *cobra.Command, f *routeFlags) (int, error) {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	r, err := readRequest(f.request, cmd.InOrStdin())
	if err != nil {
		return failure("%v", err)
	}
	f.reqPath = r.URL.Path
	rt, err := loadHandler(f, errOut)
	if err != nil {
		return failure("%v", err)
	}
	defer rt.cleanup()
	res, err := explain(out, rt.h, r)
	if err != nil {
		return failure("explaining the request: %v", err)
	}
	if !res.OK {
		// The route would refuse it: say so in the exit status.
		return failure("the route would refuse this request (%s)", res.Outcome)
	}
	return exitOK, nil
}

const masked = "••••"

// explain runs the request through the route's gateway with sending switched
// off and prints the plan, the exact Twilio requests and the answers.
func explain(w io.Writer, h *Handler, r *http.Request) (*mapping.Result, error) {
	dry := h.gw.Serve(gateway.Inbound{Request: r, ClientIP: "127.0.0.1"}, gateway.DryRun)
	if dry.Err != nil {
		return nil, dry.Err
	}
	fmt.Fprintf(w, "Mapping: %s\n", h.mapping.Name())
	res := dry.Result
	if !res.OK {
		reason := res.Reason
		if reason == "" {
			reason = res.Outcome
		}
		fmt.Fprintf(w, "\nNothing would be sent (%s): %s\n", res.Outcome, reason)
		printReply(w, "\nThe caller would get:", dry.Reply)
		return res, nil
	}
	for i, req := range dry.Requests {
		label := "Twilio request"
		if i > 0 {
			label = fmt.Sprintf("Fallback %d", i)
		}
		fmt.Fprintf(w, "\n%s (account %s):\n", label, dry.Plan[i])
		printTwilioRequest(w, h, req)
	}
	printReply(w, fmt.Sprintf("\nIf Twilio accepts (%s %s), the caller gets:", res.Sid[:2]+"…", res.Status), dry.Reply)
	bad := &mapping.Result{Outcome: mapping.OutcomeRejected, API: res.API, HTTPStatus: 400, ErrorCode: 21211,
		ErrorMessage: "The 'To' number is not a valid phone number.", MoreInfo: "https://www.twilio.com/docs/errors/21211",
		Account: res.Account, AccountSID: res.AccountSID}
	failure, err := h.mapping.Reply(dry.Values, bad)
	if err != nil {
		return nil, err
	}
	printReply(w, "\nIf Twilio refuses (21211, not a valid phone number), the caller gets:", failure)
	return res, nil
}

func printTwilioRequest(w io.Writer, h *Handler, req *twilio.Request) {
	fmt.Fprintf(w, "  POST %s\n", req.URL())
	user := req.Username
	if user == "" {
		user = "(none)"
	}
	fmt.Fprintf(w, "  Basic user: %s  password: %s\n", user, masked)
	fmt.Fprintln(w, "  Content-Type: application/x-www-form-urlencoded")
	for _, k := range slices.Sorted(maps.Keys(req.Params)) {
		for _, v := range req.Params[k] {
			fmt.Fprintf(w, "  %s=%s\n", k, v)
		}
	}
}

func printReply(w io.Writer, title string, rep *mapping.Reply) {
	if rep == nil {
		return
	}
	fmt.Fprintln(w, title)
	fmt.Fprintf(w, "  HTTP %d %s\n", rep.Status, http.StatusText(rep.Status))
	for _, k := range slices.Sorted(maps.Keys(rep.Header)) {
		for _, v := range rep.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	if len(rep.Body) > 0 {
		fmt.Fprintln(w)
		for line := range strings.Lines(string(rep.Body)) {
			fmt.Fprintf(w, "  %s\n", strings.TrimRight(line, "\r\n"))
		}
	}
}

// --- test ---

func testCommand(wrap wrapFunc) *cobra.Command {
	var f routeFlags
	var to, message string
	cmd := &cobra.Command{
		Use:   "test --config <Caddyfile> [--path /sms] (--to <number> [--message <text>] | --request <file|->)",
		Short: "Send one test message through a twilio_sms route",
		Long: `
Like a product's "Send test SMS" button: runs one request through the route's
handler, which really calls the configured Twilio API (or the simulator named
by api_url), and says what happened in words, with the answer the product
would get. --to and --message build a request for the generic mapping; for
another mapping give a sample request in its dialect with --request.

When the route's api_url (or studio_url) is a plain-http address that a
twilio_simulator in the same config serves, and nothing listens there, the
command starts that simulator on that address for its own duration, so the
quick start's Caddyfile can be tested without running it.

Exit status: 0 only when Twilio accepted the message (call, flow execution);
1 when it did not (refused, invalid, unreachable, no answer in time) or the
config or the request cannot be read or no route matches; 2 for a usage error
(no --config, neither or both of --to and --request, --message without --to,
an unknown flag or argument).`,
		Args:          noArgs(wrap),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case f.config == "":
				return usageExit(cmd, wrap, "--config is required (the Caddyfile or JSON config with the twilio_sms route)")
			case (to == "") == (f.request == ""):
				return usageExit(cmd, wrap, "give either --to (with --message) or --request")
			case f.request != "" && cmd.Flags().Changed("message"):
				return usageExit(cmd, wrap, "--message goes with --to; with --request the message is in the request")
			}
			return wrap(cmd, func(caddycmd.Flags) (int, error) { return runTest(cmd, &f, to, message) })
		},
	}
	f.add(cmd)
	cmd.Flags().StringVarP(&f.request, "request", "r", "", "File with a raw HTTP/1.1 request in the route's dialect, or - for stdin")
	cmd.Flags().StringVar(&to, "to", "", "Destination number (generic mapping)")
	cmd.Flags().StringVar(&message, "message", "Test message from caddy twilio-sms test", "Message text (generic mapping)")
	return cmd
}

func runTest(cmd *cobra.Command, f *routeFlags, to, message string) (int, error) {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var r *http.Request
	if f.request != "" {
		var err error
		if r, err = readRequest(f.request, cmd.InOrStdin()); err != nil {
			return failure("%v", err)
		}
		f.reqPath = r.URL.Path
	}
	rt, err := loadHandler(f, errOut)
	if err != nil {
		return failure("%v", err)
	}
	defer rt.cleanup()
	h := rt.h
	if r == nil {
		if name := h.mapping.Name(); name != "generic" {
			return failure("--to and --message build a request for the generic mapping, but this route uses mapping %s: give a sample request in its dialect with --request", name)
		}
		path := f.path
		if path == "" {
			path = "/sms"
		}
		form := url.Values{"to": {to}, "message": {message}}
		r = httptest.NewRequest(http.MethodPost, "http://localhost"+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	stop, err := startConfigSimulators(rt.cfg, rt.upstreams, errOut)
	if err != nil {
		return failure("%s: %v", f.config, err)
	}
	defer stop()
	sent := h.gw.Serve(gateway.Inbound{Request: r, ClientIP: "127.0.0.1"}, gateway.Send)
	if sent.Err != nil {
		return failure("the mapping failed: %v", sent.Err)
	}
	res := sent.Result
	if res.Outcome == mapping.OutcomeInvalid && res.Reason != "" {
		fmt.Fprintf(out, "Nothing was sent: %s\n", res.Reason)
	} else {
		code := ""
		if res.ErrorCode != 0 {
			code = strconv.Itoa(res.ErrorCode)
		}
		fmt.Fprintln(out, describeOutcome(res.Outcome, res.Sid, res.Status, res.Account, res.API, code))
	}
	printReply(out, "\nThe caller got:", sent.Reply)
	if res.Outcome != mapping.OutcomeAccepted {
		return failure("the test message was not accepted (%s)", res.Outcome)
	}
	return exitOK, nil
}

// --- test: the config's own simulator ---

// configSimulator is a twilio_simulator handler of a config and the addresses
// its server listens on.
type configSimulator struct {
	raw    json.RawMessage
	listen []string
	where  string
}

// findSimulators returns every twilio_simulator handler in apps.http.servers.
func findSimulators(cfg []byte) []configSimulator {
	var doc struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Listen []string    `json:"listen"`
					Routes []jsonRoute `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if json.Unmarshal(cfg, &doc) != nil {
		return nil
	}
	var sims []configSimulator
	for _, name := range slices.Sorted(maps.Keys(doc.Apps.HTTP.Servers)) {
		srv := doc.Apps.HTTP.Servers[name]
		walkRoutes(srv.Routes, "server "+name, nil, func(handler string, f foundHandler) {
			if handler == "twilio_simulator" {
				sims = append(sims, configSimulator{raw: f.raw, listen: srv.Listen, where: "server " + name})
			}
		})
	}
	return sims
}

// servesAt reports whether one of the listen addresses covers host:port.
func servesAt(listen []string, host string, port uint) bool {
	repl := caddy.NewReplacer()
	for _, l := range listen {
		na, err := caddy.ParseNetworkAddress(repl.ReplaceKnown(l, ""))
		if err != nil || !strings.HasPrefix(na.Network, "tcp") || port < na.StartPort || port > na.EndPort {
			continue
		}
		if na.Host == "" || strings.EqualFold(na.Host, host) || (isLoopback(na.Host) && isLoopback(host) && sameFamily(na.Host, host)) {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameFamily: localhost and 127.0.0.1 are one address for this purpose; ::1
// is not 127.0.0.1.
func sameFamily(a, b string) bool {
	v6 := func(h string) bool { ip := net.ParseIP(h); return ip != nil && ip.To4() == nil }
	return v6(a) == v6(b)
}

// startConfigSimulators starts, for the duration of a test, each
// twilio_simulator of the config that serves one of the route's upstream
// URLs where nothing listens yet: what `caddy run` of the same config would
// have listening there. The returned stop shuts them down.
func startConfigSimulators(cfg []byte, upstreams []string, stderr io.Writer) (stop func(), err error) {
	var servers []*http.Server
	stop = func() {
		for _, srv := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
		}
	}
	sims := findSimulators(cfg)
	if len(sims) == 0 {
		return stop, nil
	}
	started := map[string]bool{}
	for _, raw := range upstreams {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || u.Hostname() == "" {
			continue
		}
		port := uint(80)
		if p := u.Port(); p != "" {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				continue
			}
			port = uint(n)
		}
		addr := net.JoinHostPort(u.Hostname(), strconv.FormatUint(uint64(port), 10))
		if started[addr] {
			continue
		}
		i := slices.IndexFunc(sims, func(s configSimulator) bool { return servesAt(s.listen, u.Hostname(), port) })
		if i < 0 {
			continue
		}
		if conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
			conn.Close() // something already listens: test against it
			continue
		}
		sim := new(Simulator)
		if err := decodeModule(sims[i].raw, sim); err != nil {
			stop()
			return nil, fmt.Errorf("twilio_simulator in %s: %w", sims[i].where, err)
		}
		if err := sim.Provision(caddy.Context{}); err != nil {
			stop()
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("starting the config's twilio_simulator on %s: %w", addr, err)
		}
		srv := &http.Server{Handler: sim.sim, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		servers = append(servers, srv)
		started[addr] = true
		fmt.Fprintf(stderr, "Started the config's twilio_simulator (%s) on %s for this test: nothing was listening there.\n", sims[i].where, addr)
	}
	return stop, nil
}

// describeOutcome says what happened in words.
func describeOutcome(outcome, sid, status, account, api, code string) string {
	what := "message"
	switch api {
	case string(twilio.Calls):
		what = "call"
	case string(twilio.Studio):
		what = "flow execution"
	}
	withCode := func(s string) string {
		if code == "" || code == "0" {
			return s
		}
		text := twilioCodes[code]
		if text != "" {
			text = " " + text
		}
		return fmt.Sprintf("%s: %s%s (https://www.twilio.com/docs/errors/%s)", s, code, text, code)
	}
	switch outcome {
	case mapping.OutcomeAccepted:
		return fmt.Sprintf("Twilio accepted the %s: sid %s, status %s, account %s", what, sid, status, account)
	case mapping.OutcomeRejected:
		return withCode("Twilio refused")
	case mapping.OutcomeInvalid:
		return withCode("Nothing was sent: the request is invalid (see the answer below)")
	case mapping.OutcomeUnreachable:
		return "Nothing was sent: Twilio could not be reached (check api_url and the network)"
	case mapping.OutcomeUnknown:
		return "Twilio did not answer in time: the " + what + " may or may not have been sent"
	case mapping.OutcomeRateLimited:
		return withCode("Nothing was sent: the route's rate limit refused it")
	case mapping.OutcomeBlocked:
		return withCode("Nothing was sent: the destination country is not allowed on this route")
	case mapping.OutcomeUnavailable:
		return withCode("Nothing was sent: every account is unavailable (breaker open or queue full)")
	case "":
		return "The handler set no outcome"
	}
	return withCode("Outcome " + outcome)
}

// twilioCodes words the error codes a test most often meets.
var twilioCodes = map[string]string{
	"20003": "Twilio refused the credentials",
	"20404": "the account, flow or resource does not exist",
	"20429": "too many requests",
	"21211": "the 'To' number is not a valid phone number",
	"21212": "the 'From' number is not a valid phone number, short code or sender ID",
	"21408": "sending to this region is not enabled",
	"21606": "the 'From' number is not a valid sender for this account",
	"21608": "a trial account can only send to verified numbers",
	"21610": "the recipient has replied STOP",
	"21611": "the 'From' number's queue is full",
	"21612": "Twilio cannot route to this number",
	"21614": "the 'To' number is not a mobile number",
	"21617": "the message body is too long",
}
