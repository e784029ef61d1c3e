package caddymodule

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/mapping"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilio"
)

// ServeHTTP answers one legacy SMS request: read, map, send, map back. It always
// writes the dialect's answer itself (never also returns an error), except when
// the mapping itself fails at run time.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.Timeout))
	defer cancel()

	res := &mapping.Result{}
	v, api, params, err := h.prepare(r)
	if err != nil {
		var ie *mapping.InputError
		if !errors.As(err, &ie) {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		res.Outcome = mapping.OutcomeInvalid
		res.Field, res.Reason, res.SuggestedStatus = ie.Field, ie.Error(), ie.HTTPStatus()
	} else {
		res.API = string(api)
		h.send(ctx, r, v, api, params, res)
	}
	if v == nil {
		v = h.mapping.NewValues(h.route, mapping.Request{Method: r.Method, Path: r.URL.Path})
	}
	reply, err := h.mapping.Reply(v, res)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h.setPlaceholders(r, res)
	h.logRequest(r, v, res, time.Since(start))
	for k, vals := range reply.Header {
		w.Header()[k] = vals
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(reply.Body)))
	w.WriteHeader(reply.Status)
	_, err = w.Write(reply.Body)
	return err
}

// prepare reads the body within the mapping's cap, extracts and validates the
// fields, and computes Twilio's parameters. Any *mapping.InputError means nothing
// will be sent.
func (h *Handler) prepare(r *http.Request) (*mapping.Values, twilio.API, map[string][]string, error) {
	limit := h.mapping.MaxBodyBytes()
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, "", nil, &mapping.InputError{Field: "body", Reason: "could not be read"}
	}
	if int64(len(body)) > limit {
		return nil, "", nil, &mapping.InputError{Field: "body", Reason: "is larger than " + strconv.FormatInt(limit, 10) + " bytes", Status: http.StatusRequestEntityTooLarge}
	}
	in, err := h.mapping.ParseRequest(r, body)
	if err != nil {
		return nil, "", nil, err
	}
	v, err := h.mapping.Extract(in, h.route)
	if err != nil {
		return v, "", nil, err
	}
	api, err := h.mapping.API(v)
	if err != nil {
		return v, "", nil, err
	}
	params, err := h.mapping.Params(v, api)
	if err != nil {
		return v, "", nil, err
	}
	return v, api, params, nil
}

// send makes the Twilio call and fills res.
func (h *Handler) send(ctx context.Context, r *http.Request, v *mapping.Values, api twilio.API, params map[string][]string, res *mapping.Result) {
	req := &twilio.Request{API: api, AccountSID: h.AccountSID, FlowSID: h.StudioFlowSID, Username: h.user, Password: h.password, Params: params}
	req.BaseURL = h.apiBase
	if api == twilio.Studio {
		req.BaseURL = h.studio
	}
	if h.Credentials == CredentialsPassthrough {
		user, pass, ok := r.BasicAuth()
		if !ok || user == "" || pass == "" {
			res.Outcome, res.Field = mapping.OutcomeInvalid, "authorization"
			res.Reason, res.SuggestedStatus = `field "authorization" must carry the Twilio Account SID and auth token as HTTP Basic credentials`, http.StatusUnauthorized
			return
		}
		req.Username, req.Password = user, pass
		if req.AccountSID == "" {
			req.AccountSID = v.Field("account_sid")
		}
		if req.AccountSID == "" {
			req.AccountSID = user
		}
	}
	from, mss := h.sender(v, api)
	if mss != "" {
		req.Params.Set("MessagingServiceSid", mss)
	} else if from != "" {
		req.Params.Set("From", from)
	}
	out, err := h.client.Send(ctx, req)
	fillResult(res, out, err)
	res.Account, res.AccountSID = "main", req.AccountSID
}

// sender picks From or MessagingServiceSid: the route's configuration wins; the
// caller's own "from" field is used only when the route sets no sender.
func (h *Handler) sender(v *mapping.Values, api twilio.API) (from, mss string) {
	if h.MessagingServiceSID != "" && api != twilio.Calls {
		if api == twilio.Studio {
			return h.MessagingServiceSID, ""
		}
		return "", h.MessagingServiceSID
	}
	if h.From != "" {
		return h.From, ""
	}
	return v.Field("from"), ""
}

func fillResult(res *mapping.Result, out *twilio.Outcome, err error) {
	var se *twilio.SendError
	switch {
	case errors.As(err, &se):
		if se.MayHaveReached() {
			res.Outcome = mapping.OutcomeUnknown
			res.Reason = "Twilio did not answer in time; the message may or may not have been sent"
		} else {
			res.Outcome = mapping.OutcomeUnreachable
			res.Reason = "Twilio could not be reached; nothing was sent"
		}
	case err != nil:
		res.Outcome, res.Reason = mapping.OutcomeUnreachable, "Twilio could not be reached; nothing was sent"
	case out.Accepted:
		res.OK, res.Outcome = true, mapping.OutcomeAccepted
		res.Sid, res.Status, res.HTTPStatus = out.Sid, out.Status, out.HTTPStatus
		res.TwilioBody, res.TwilioContentType = out.Body, out.ContentType
	default:
		res.Outcome = mapping.OutcomeRejected
		res.HTTPStatus, res.ErrorCode, res.ErrorMessage, res.MoreInfo = out.HTTPStatus, out.ErrorCode, out.ErrorMessage, out.MoreInfo
		res.TwilioBody, res.TwilioContentType = out.Body, out.ContentType
		if res.ErrorMessage == "" {
			res.ErrorMessage = "Twilio answered HTTP " + strconv.Itoa(out.HTTPStatus)
		}
	}
	res.Suggest()
}

func (h *Handler) setPlaceholders(r *http.Request, res *mapping.Result) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	repl.Set("http.twilio_sms.outcome", res.Outcome)
	repl.Set("http.twilio_sms.sid", res.Sid)
	repl.Set("http.twilio_sms.status", res.Status)
	repl.Set("http.twilio_sms.error_code", res.ErrorCode)
	repl.Set("http.twilio_sms.account", res.Account)
	repl.Set("http.twilio_sms.api", res.API)
	repl.Set("http.twilio_sms.mapping", h.mapping.Name())
}

// logRequest writes one line per request. Never the message, the code, a token
// or a whole phone number: only the masked destination.
func (h *Handler) logRequest(r *http.Request, v *mapping.Values, res *mapping.Result, took time.Duration) {
	level := zap.InfoLevel
	if !res.OK {
		level = zap.WarnLevel
	}
	ce := h.logger.Check(level, "twilio_sms request")
	if ce == nil {
		return
	}
	ce.Write(
		zap.String("mapping", h.mapping.Name()),
		zap.String("outcome", res.Outcome),
		zap.String("api", res.API),
		zap.String("to", phone.Mask(v.Field("to"))),
		zap.String("sid", res.Sid),
		zap.Int("twilio_status", res.HTTPStatus),
		zap.Int("error_code", res.ErrorCode),
		zap.String("field", res.Field),
		zap.String("account", res.Account),
		zap.Duration("duration", took),
	)
}
