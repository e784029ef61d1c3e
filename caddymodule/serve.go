package caddymodule

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/gateway"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

// ServeHTTP answers one request through the route's gateway and writes the
// answer itself. It always returns nil: an error handed to Caddy would be
// logged with the request's URI and headers, which carry codes, numbers and
// keys. A panic is recovered into the dialect's failure answer and one log
// line without request data.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			h.logger.Error("twilio_sms: internal error answered as a failure", zap.String("route", h.Name), zap.String("panic", panicKind(v)))
			h.writeFailure(w, r)
		}
	}()
	if h.callbacks != nil && h.callbacks.Matches(r) {
		h.callbacks.ServeHTTP(w, r) // Twilio's status callback: verified before anything is recorded
		return nil
	}
	out := h.gw.Serve(gateway.Inbound{Request: r, Control: http.NewResponseController(w), ClientIP: clientIP(r), Start: start}, gateway.Send)
	if out.Err != nil {
		h.logger.Error("twilio_sms: the mapping failed at run time; answered as a failure", zap.String("route", h.Name), zap.String("mapping", h.mapping.Name()))
		h.writeFailure(w, r)
		return nil
	}
	res := out.Result
	h.metrics.request(h.Name, h.mapping.Name(), res.API, res.Outcome, res.ErrorCode)
	h.setPlaceholders(r, res)
	h.logRequest(out.Values, res, time.Since(start))
	status, header, body := 0, http.Header(nil), []byte(nil)
	if fw := out.Forwarded; fw != nil {
		status, header, body = fw.Status, fw.Header, fw.Body // Twilio's own answer, verbatim
	} else {
		status, header, body = out.Reply.Status, out.Reply.Header, out.Reply.Body
	}
	hdr := w.Header()
	for k, vals := range header {
		hdr[k] = vals
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a caller that went away is not Caddy's error to log
	return nil
}

// clientIP is the client address as Caddy determined it (trusted_proxies
// respected), without a port.
func clientIP(r *http.Request) string {
	if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
		return ip
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// writeFailure is the answer when the mapping itself cannot produce one (a
// bug or a panic): the dialect's failure answer when it can still be built
// from nothing of the request, else a bare 500. The outcome is unknown; the
// caller must not take it for success.
func (h *Handler) writeFailure(w http.ResponseWriter, r *http.Request) {
	body, status, ctype := []byte("internal error\n"), http.StatusInternalServerError, "text/plain; charset=utf-8"
	func() {
		defer func() { _ = recover() }()
		res := &mapping.Result{Outcome: mapping.OutcomeUnknown, Reason: "the adapter failed to process the request", SuggestedStatus: http.StatusInternalServerError}
		if rep, err := h.mapping.Reply(h.mapping.NewValues(h.gw.Route, gateway.RequestInfo(r)), res); err == nil {
			body, status, ctype = rep.Body, rep.Status, rep.Header.Get("Content-Type")
		}
	}()
	defer func() { _ = recover() }() // a writer that panics again gets nothing more
	hdr := w.Header()
	if ctype != "" {
		hdr.Set("Content-Type", ctype)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// panicKind names a recovered value's type only: its text may hold request data.
func panicKind(v any) string {
	switch v.(type) {
	case error:
		return "error"
	case string:
		return "string"
	}
	return "value"
}

func (h *Handler) setPlaceholders(r *http.Request, res *mapping.Result) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	// One provider instead of seven Set calls: values are read on demand.
	name := h.mapping.Name()
	repl.Map(func(key string) (any, bool) {
		switch key {
		case "http.twilio_sms.outcome":
			return res.Outcome, true
		case "http.twilio_sms.sid":
			return res.Sid, true
		case "http.twilio_sms.status":
			return res.Status, true
		case "http.twilio_sms.error_code":
			return res.ErrorCode, true
		case "http.twilio_sms.account":
			return res.Account, true
		case "http.twilio_sms.api":
			return res.API, true
		case "http.twilio_sms.mapping":
			return name, true
		}
		return nil, false
	})
}

// logRequest writes one line per request: what happened, never the message,
// the code, a token or a whole phone number (the destination is masked).
func (h *Handler) logRequest(v *mapping.Values, res *mapping.Result, took time.Duration) {
	level := zap.InfoLevel
	if !res.OK {
		level = zap.WarnLevel
	}
	ce := h.logger.Check(level, "twilio_sms")
	if ce == nil {
		return // the level drops the line: nothing to mask
	}
	to := ""
	if v != nil {
		to = phone.Mask(v.Field("to"))
	}
	ce.Write(
		zap.String("route", h.Name),
		zap.String("mapping", h.mapping.Name()),
		zap.String("outcome", res.Outcome),
		zap.String("api", res.API),
		zap.String("to", to),
		zap.String("sid", res.Sid),
		zap.String("account", res.Account),
		zap.Int("twilio_status", res.HTTPStatus),
		zap.Int("error_code", res.ErrorCode),
		zap.String("field", res.Field),
		zap.Bool("duplicate", res.Duplicate),
		zap.Duration("duration", took),
	)
}
