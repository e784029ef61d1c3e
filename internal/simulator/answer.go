package simulator

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// xmlHeader is the declaration Twilio puts before every XML answer.
const xmlHeader = "<?xml version='1.0' encoding='UTF-8'?>\n"

// The Content-Type of the answers. Twilio's documentation lists application/json and
// application/xml for the 2010 API's formats, and recorded answers of api.twilio.com
// (2020, March and May 2021, November 2023) carry "application/json" without a charset
// (one May 2021 recording has "; charset=utf-8", as do older Product APIs). The body is
// UTF-8 either way.
const (
	ContentTypeJSON = "application/json"
	ContentTypeXML  = "application/xml"
)

// authRealm is the WWW-Authenticate challenge of a 401.
const authRealm = `Basic realm="Twilio API"`

// answer is the reply to one request, before it is rendered in the request's format.
type answer struct {
	status   int
	code     int    // Twilio error code, 0 on success
	sid      string // SID of the resource created, fetched, updated or deleted
	accepted bool   // answered 2xx (for a create: the resource was created and counted)
	json     any    // value rendered for JSON; with xml nil too, the answer has no body (204)
	xml      any    // element rendered inside <TwilioResponse> for XML
	allow    string // Allow header of a 405
}

// restException is Twilio's error body in both formats. Detail only appears in XML.
type restException struct {
	XMLName  xml.Name `json:"-" xml:"RestException"`
	Code     int      `json:"code" xml:"Code"`
	Detail   string   `json:"-" xml:"Detail,omitempty"`
	Message  string   `json:"message" xml:"Message"`
	MoreInfo string   `json:"more_info" xml:"MoreInfo"`
	Status   int      `json:"status" xml:"Status"`
}

type twilioResponse struct {
	XMLName xml.Name `xml:"TwilioResponse"`
	Body    any
}

func moreInfo(code int) string {
	return "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)
}

// restError is an error answer; detail only shows in XML.
func restError(status, code int, message, detail string) answer {
	e := &restException{Code: code, Detail: detail, Message: message, MoreInfo: moreInfo(code), Status: status}
	return answer{status: status, code: code, json: e, xml: e}
}

// invalid is a 400 error answer.
func invalid(code int, message string) answer {
	return restError(http.StatusBadRequest, code, message, "")
}

func authError() answer {
	return restError(http.StatusUnauthorized, 20003, "Authenticate", "Your AccountSid or AuthToken was incorrect.")
}

func notFound(path string) answer {
	return restError(http.StatusNotFound, 20404, "The requested resource "+path+" was not found", "")
}

// render encodes a in format f. Marshalling our own types cannot fail; if it ever did,
// the answer degrades to an empty body rather than a panic.
func (a answer) render(f format) []byte {
	if a.json == nil && a.xml == nil {
		return nil
	}
	var buf bytes.Buffer
	if f == formatXML {
		buf.WriteString(xmlHeader)
		_ = xml.NewEncoder(&buf).Encode(twilioResponse{Body: a.xml})
		return buf.Bytes()
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(a.json)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func contentType(f format) string {
	if f == formatXML {
		return ContentTypeXML
	}
	return ContentTypeJSON
}

// setHeaders writes the headers every Twilio answer carries.
func (s *Simulator) setHeaders(h http.Header, x *exchange, f format) {
	var inFlight int64
	if x.acc != nil {
		inFlight = x.acc.stats.inFlight.Load()
	}
	h.Set("Content-Type", contentType(f))
	h.Set("Twilio-Concurrent-Requests", strconv.FormatInt(inFlight, 10))
	h.Set("Twilio-Request-Duration", fmt.Sprintf("%.3f", time.Since(x.start).Seconds()))
	h.Set("Twilio-Request-Id", x.requestID)
	if x.answer.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", authRealm)
	}
	if x.answer.allow != "" {
		h.Set("Allow", x.answer.allow)
	}
}

// deliver waits for the configured latency (unless the client goes away) and writes the answer.
func (s *Simulator) deliver(w http.ResponseWriter, r *http.Request, x *exchange) {
	if !wait(r.Context(), s.latency) {
		return
	}
	s.write(w, x, x.route.format, x.answer.render(x.route.format))
}

func (s *Simulator) write(w http.ResponseWriter, x *exchange, f format, body []byte) {
	s.commit(x)
	s.setHeaders(w.Header(), x, f)
	if x.answer.status == http.StatusNoContent {
		w.Header().Del("Content-Type")
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(x.answer.status)
	_, _ = w.Write(body)
}

// deliverFaulty writes an answer that was produced normally through one of the faults that
// spoil the delivery: slow, reset, malformed_json, malformed_xml.
func (s *Simulator) deliverFaulty(w http.ResponseWriter, r *http.Request, x *exchange, f Fault) {
	switch f.Mode {
	case FaultSlow:
		if wait(r.Context(), f.Delay) {
			s.deliver(w, r, x)
		}
	case FaultMalformedJSON, FaultMalformedXML:
		if !wait(r.Context(), s.latency) {
			return
		}
		ff := formatJSON
		if f.Mode == FaultMalformedXML {
			ff = formatXML
		}
		body := x.answer.render(ff)
		s.write(w, x, ff, body[:len(body)/2])
	case FaultReset:
		if !wait(r.Context(), s.latency) {
			return
		}
		s.reset(w, x)
	default:
		s.deliver(w, r, x)
	}
}

// reset sends the status line, the headers and half of the body announced by
// Content-Length, then closes the connection.
func (s *Simulator) reset(w http.ResponseWriter, x *exchange) {
	body := x.answer.render(x.route.format)
	h := make(http.Header)
	s.setHeaders(h, x, x.route.format)
	h.Set("Content-Length", strconv.Itoa(len(body)))

	s.commit(x)
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// No hijacking (HTTP/2, or a wrapper that hides it): announce the full body, send half
		// of it and abort the response, which resets the stream or closes the connection.
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(x.answer.status)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	writePartial(rw.Writer, x.answer.status, h, body[:len(body)/2])
}

func writePartial(bw *bufio.Writer, status int, h http.Header, partial []byte) {
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = h.Write(bw)
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(partial)
	_ = bw.Flush()
}

// newSID returns prefix + 32 random lowercase hex digits, like every Twilio SID.
func newSID(prefix string) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return prefix + hex.EncodeToString(b[:])
}
