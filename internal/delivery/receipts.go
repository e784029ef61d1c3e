package delivery

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// Receipt is one HTTP request to a caller's receipt target, built from a
// status by BuildReceipt and sent by a Forwarder.
type Receipt struct {
	Route, Dialect string
	// Method is GET or POST.
	Method string
	// URL is the full target, with the query of a GET.
	URL string
	// Form is the body of a POST (form-encoded); nil for a GET.
	Form url.Values
	// Header is sent as is.
	Header http.Header
}

// Kannel's DLR types (dlr-mask bits, and the %d of a dlr-url).
const (
	KannelDelivered   = 1  // delivered to the phone
	KannelUndelivered = 2  // not delivered to the phone
	KannelBuffered    = 4  // queued on the SMSC
	KannelSMSCSubmit  = 8  // delivered to (accepted by) the SMSC
	KannelSMSCReject  = 16 // not delivered to (rejected by) the SMSC
)

// KannelSMSCID is what a Kannel receipt's %i (the smsc-id) says.
const KannelSMSCID = "twilio"

// KannelValue is Kannel's DLR type for a Twilio status under dlr-mask mask,
// or 0 when the mask does not ask for it: queued 4, sent 8, delivered 1,
// undelivered 2, failed 16 (the message never left: Kannel's "SMSC
// reject") or, when the mask asks for 2 and not 16, 2. A "sent" the poller
// gave up on is no new DLR.
func KannelValue(status string, mask int) int {
	v := 0
	switch status {
	case StatusQueued:
		v = KannelBuffered
	case StatusSent:
		v = KannelSMSCSubmit
	case StatusDelivered:
		v = KannelDelivered
	case StatusUndelivered:
		v = KannelUndelivered
	case StatusFailed:
		v = KannelSMSCReject
		if mask&KannelSMSCReject == 0 {
			v = KannelUndelivered
		}
	}
	if mask&v == 0 {
		return 0
	}
	return v
}

// KannelURL expands Kannel's escape codes in a dlr-url for DLR type value,
// as Kannel's smsbox does for a delivery report, each value URL-encoded:
//
//	%d  the DLR type (1, 2, 4, 8, 16)
//	%A  the SMSC's reply: "ACK/" (8), "NACK/<error code>/<status>" (16), or
//	    an SMPP-style receipt "id:<sid> sub:001 dlvrd:001 submit date:...
//	    done date:... stat:DELIVRD err:000 text:" (1, 2, 4; text is always
//	    empty: the message is never kept)
//	%p  the phone number of the DLR's sender: the message's destination
//	%P  the DLR's receiver: the message's sender
//	%q  %Q  as %p and %P (already international, with "+")
//	%t  the DLR's time, "YYYY-MM-DD HH:MM:SS" UTC
//	%T  the same as a Unix timestamp
//	%i  the smsc-id, KannelSMSCID
//	%I  %F  the message id: Kannel's internal id has no equivalent, so both
//	    give the Twilio message SID (the foreign, SMSC-provided id)
//	%n  the service (sendsms-user) name: the route's name
//	%%  a "%"
//
// The message's own escapes (%k, %s, %S, %r, %a, %b, %L) and the ones a
// Twilio message has no value for (%c, %m, %M, %C, %u, %U, %B, %o, %O, %f,
// %x, %R, %D) give nothing; any other "%" and letter is kept as written,
// as Kannel does (so an already URL-encoded "%2F" survives).
func KannelURL(tmpl string, value int, st *Status) string {
	var b strings.Builder
	b.Grow(len(tmpl) + 64)
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 == len(tmpl) {
			b.WriteByte(c)
			continue
		}
		i++
		switch tmpl[i] {
		case 'd':
			b.WriteString(strconv.Itoa(value))
		case 'A':
			b.WriteString(url.QueryEscape(kannelReply(value, st)))
		case 'p', 'q':
			b.WriteString(url.QueryEscape(stripChannel(st.To)))
		case 'P', 'Q':
			b.WriteString(url.QueryEscape(stripChannel(st.From)))
		case 't':
			b.WriteString(url.QueryEscape(st.At.UTC().Format(time.DateTime)))
		case 'T':
			b.WriteString(strconv.FormatInt(st.At.Unix(), 10))
		case 'i':
			b.WriteString(KannelSMSCID)
		case 'I', 'F':
			b.WriteString(url.QueryEscape(st.MessageSid))
		case 'n':
			b.WriteString(url.QueryEscape(st.Token.Route))
		case '%':
			b.WriteByte('%')
		case 'k', 's', 'S', 'r', 'a', 'b', 'L', 'c', 'm', 'M', 'C', 'u', 'U', 'B', 'o', 'O', 'f', 'x', 'R', 'D':
		default:
			b.WriteByte('%')
			b.WriteByte(tmpl[i])
		}
	}
	return b.String()
}

// kannelReply is %A: what an SMSC would have answered.
func kannelReply(value int, st *Status) string {
	switch value {
	case KannelSMSCSubmit:
		return "ACK/"
	case KannelSMSCReject:
		return "NACK/" + strconv.Itoa(st.ErrorCode) + "/" + st.Status
	case KannelDelivered:
		return smppReceipt(st, "DELIVRD", 1)
	case KannelUndelivered:
		return smppReceipt(st, "UNDELIV", 0)
	case KannelBuffered:
		return smppReceipt(st, "ACCEPTD", 0)
	}
	return ""
}

// smppReceipt is the text of an SMPP delivery receipt (SMPP 3.4, appendix
// B) for st, with an empty text.
func smppReceipt(st *Status, stat string, delivered int) string {
	return fmt.Sprintf("id:%s sub:001 dlvrd:%03d submit date:%s done date:%s stat:%s err:%s text:",
		st.MessageSid, delivered, smppDate(st.Token.Sent), doneDate(st), stat, smppErr(st.ErrorCode))
}

// smppDate is SMPP's YYMMDDhhmm in UTC ("" for the zero time).
func smppDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("0601021504")
}

// doneDate is the carrier's done date when Twilio gave it, else the time the
// status was seen.
func doneDate(st *Status) string {
	if len(st.RawDlrDoneDate) == 10 && digits(st.RawDlrDoneDate) {
		return st.RawDlrDoneDate
	}
	return smppDate(st.At)
}

// smppErr is the receipt's err: "000" for none, else Twilio's code.
func smppErr(code int) string {
	if code == 0 {
		return "000"
	}
	return strconv.Itoa(code)
}

// Jasmin's dlr-level values and message_status words.
const (
	JasminLevelSMSC     = 1 // SMSC level: the submit's outcome
	JasminLevelTerminal = 2 // terminal level: the handset's receipt
	JasminLevelAll      = 3

	// JasminAck is the body a Jasmin receipt's receiver answers with.
	JasminAck = "ACK/Jasmin"
)

// JasminReceipt is the form of a Jasmin receipt for st under dlr-level
// level, and false when the level does not ask for one:
//
//	sent         level 1: message_status ESME_ROK
//	failed       level 1: ESME_RSUBMITFAIL (the submit failed); at level 2
//	             alone, a level 2 receipt REJECTD
//	delivered    level 2: DELIVRD
//	undelivered  level 2: UNDELIV
//
// A level 1 receipt has id, message_status and level; a level 2 one adds
// id_smsc, sub, dlvrd, subdate, donedate (YYMMDDhhmm), err and text (always
// empty: the message is never kept). id and id_smsc are the Twilio message
// SID, which the adapter answered the send with. level is the receipt's own
// level, as Jasmin sends it.
func JasminReceipt(st *Status, level int) (url.Values, bool) {
	smsc, terminal := level&JasminLevelSMSC != 0, level&JasminLevelTerminal != 0
	switch {
	case st.Status == StatusSent && !st.Final && smsc:
		return jasminLevel1(st, "ESME_ROK"), true
	case st.Status == StatusFailed && smsc:
		return jasminLevel1(st, "ESME_RSUBMITFAIL"), true
	case st.Status == StatusFailed && terminal:
		return jasminLevel2(st, "REJECTD", 0), true
	case st.Status == StatusDelivered && terminal:
		return jasminLevel2(st, "DELIVRD", 1), true
	case st.Status == StatusUndelivered && terminal:
		return jasminLevel2(st, "UNDELIV", 0), true
	}
	return nil, false
}

func jasminLevel1(st *Status, status string) url.Values {
	return url.Values{"id": {st.MessageSid}, "message_status": {status}, "level": {"1"}}
}

func jasminLevel2(st *Status, status string, delivered int) url.Values {
	return url.Values{
		"id":             {st.MessageSid},
		"id_smsc":        {st.MessageSid},
		"message_status": {status},
		"level":          {"2"},
		"subdate":        {smppDate(st.Token.Sent)},
		"donedate":       {doneDate(st)},
		"sub":            {"001"},
		"dlvrd":          {fmt.Sprintf("%03d", delivered)},
		"err":            {smppErr(st.ErrorCode)},
		"text":           {""},
	}
}

// twilioUserAgent is what Twilio's webhook requests say they are.
const twilioUserAgent = "TwilioProxy/1.1"

// TwilioReceipt is st forwarded to a Twilio caller's own StatusCallback:
// Twilio's parameters as Twilio posted them (rebuilt from a poll), with
// X-Twilio-Signature computed over the caller's URL with secret, so that
// Twilio's own RequestValidator accepts it (no signature without a
// secret). With method GET the parameters go in the query, which the
// signature then covers, as Twilio does. A "sent" the poller gave up on is
// no new status and gives no receipt.
func TwilioReceipt(st *Status, target, method, secret string) (*Receipt, bool) {
	if st.Status == StatusSent && st.Final {
		return nil, false
	}
	params := twilioParams(st)
	r := &Receipt{Route: st.Token.Route, Dialect: DialectTwilio, Method: http.MethodPost, URL: target, Form: params,
		Header: http.Header{"User-Agent": {twilioUserAgent}}}
	if strings.EqualFold(method, http.MethodGet) {
		r.Method, r.Form = http.MethodGet, nil
		r.URL = appendQuery(target, params.Encode())
		params = nil
	} else {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if secret != "" {
		r.Header.Set(twilioapi.SignatureHeader, twilioapi.Signature(secret, r.URL, params))
	}
	if st.IdempotencyToken != "" {
		r.Header.Set("I-Twilio-Idempotency-Token", st.IdempotencyToken)
	}
	return r, true
}

// BuildReceipt is the receipt st calls for under its token's Receipt and
// Dialect, if any. authToken gives the re-signing secret of a Twilio
// receipt when the token carries no CallerToken (stored credentials).
func BuildReceipt(st *Status, authToken func(accountSID string) string) (*Receipt, bool) {
	t := st.Token
	if t.Receipt == "" {
		return nil, false
	}
	switch t.Dialect {
	case DialectKannel:
		v := KannelValue(st.Status, t.Mask)
		if v == 0 || (st.Status == StatusSent && st.Final) {
			return nil, false
		}
		return &Receipt{Route: t.Route, Dialect: DialectKannel, Method: http.MethodGet, URL: KannelURL(t.Receipt, v, st), Header: http.Header{}}, true
	case DialectJasmin:
		form, ok := JasminReceipt(st, t.Mask)
		if !ok {
			return nil, false
		}
		r := &Receipt{Route: t.Route, Dialect: DialectJasmin, Method: http.MethodPost, URL: t.Receipt, Form: form,
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
		if strings.EqualFold(t.Method, http.MethodGet) {
			r.Method, r.Form, r.Header = http.MethodGet, nil, http.Header{}
			r.URL = appendQuery(t.Receipt, form.Encode())
		}
		return r, true
	case DialectTwilio:
		secret := t.CallerToken
		if secret == "" && authToken != nil {
			secret = authToken(t.AccountSID)
		}
		return TwilioReceipt(st, t.Receipt, t.Method, secret)
	}
	return nil, false
}

// acked reports whether a receiver took a receipt: Jasmin's must answer 200
// with exactly "ACK/Jasmin" (surrounding white space aside); the others any
// 2xx.
func acked(dialect string, status int, body []byte) bool {
	if dialect == DialectJasmin {
		return status == http.StatusOK && string(bytes.TrimSpace(body)) == JasminAck
	}
	return status >= 200 && status < 300
}

// retryable reports whether a failed attempt is worth another: no answer, a
// 5xx or 429, or (Jasmin, which retries until acknowledged) any answer
// without the acknowledgement.
func retryable(dialect string, status int) bool {
	return status == 0 || status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || dialect == DialectJasmin
}

func appendQuery(target, query string) string {
	if query == "" {
		return target
	}
	if strings.Contains(target, "?") {
		if strings.HasSuffix(target, "?") || strings.HasSuffix(target, "&") {
			return target + query
		}
		return target + "&" + query
	}
	return target + "?" + query
}

// stripChannel removes a channel prefix ("whatsapp:") from an address.
func stripChannel(addr string) string {
	if i := strings.IndexByte(addr, ':'); i > 0 && i < len(addr)-1 && addr[i+1] == '+' {
		return addr[i+1:]
	}
	return addr
}
