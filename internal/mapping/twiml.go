package mapping

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on how long a caller's TwiML may keep a call open. A voice OTP is a
// few seconds of speech; a caller who could send <Pause length="60"/> a
// hundred times, or <Say loop="0"> (Twilio repeats it forever), could hold a
// call to a premium-rate number for hours at the account's expense (toll
// fraud). A document over any limit is refused with an *InputError naming the
// field that carried the text; nothing is silently shortened.
const (
	// MaxPauseSeconds is the longest single pause: a <Pause length> or an SSML
	// <break time> inside <Say>. PingOne's afterTag pauses are 1 s.
	MaxPauseSeconds = 10
	// MaxTotalPauseSeconds caps the sum of every pause in one document: Pause
	// lengths (1 s when length is left out) plus SSML breaks (1 s when they
	// give no time), each break counted once per repetition of its Say.
	MaxTotalPauseSeconds = 30
	// MaxSayLoop is the largest <Say loop> kept. Twilio reads loop="0" as
	// "forever", so 0 is refused like anything above MaxSayLoop.
	MaxSayLoop = 3
	// MaxSayRepetitions caps how many times Twilio speaks a <Say> in one
	// document: each <Say> counts its loop (1 by default), and so does the
	// <Say> made of text outside any verb. A 10-digit code read digit by digit
	// with text around it, three times over, stays below it.
	MaxSayRepetitions = 40
	// MaxSpokenChars caps the characters spoken in one document, each Say's
	// text counted once per repetition, so that loop cannot make a call speak
	// more than the longest document Twilio accepts (MaxTwimlChars) would.
	MaxSpokenChars = MaxTwimlChars
)

// TwiML turns a voice message into a TwiML document for the Calls API's Twiml
// parameter. Products such as PingOne wrap each digit in fragments like
// `<Say>1</Say> <Pause length="1"/>` (their beforeTag/afterTag settings): those
// survive. Text outside any verb is spoken with <Say>. Only Say (with its SSML
// children) and Pause are allowed: a caller must not be able to make Twilio
// <Dial>, <Play> a URL or <Redirect>; such a message is refused. Say keeps
// voice, language and loop (1 to MaxSayLoop); Pause keeps length. A message
// over the limits above (MaxPauseSeconds, MaxTotalPauseSeconds, MaxSayLoop,
// MaxSayRepetitions, MaxSpokenChars) is refused too, never shortened.
//
// A bare "&" is read as text. Anything else that is not well-formed XML with
// at most one Response root, including text or elements after </Response>,
// is spoken as it is, markup included. Everything is written by encoding/xml,
// so &, < and quotes are escaped.
//
// The errors that refuse a message (a verb that is not allowed, a limit) never
// contain the message, so they may be shown to the caller.
func TwiML(message, voice, language string) (string, error) {
	var out bytes.Buffer
	if strings.Contains(message, "<") {
		err := writeFragmentDoc(&out, message, voice, language)
		if err != nil && !refused(err) {
			// A bare "&" in the text around the fragments ("Tom & Jerry <Say>1</Say>")
			// is text, not markup: read it as "&amp;" and try once more.
			if fixed, changed := escapeBareAmpersands([]byte(message)); changed {
				out.Reset()
				err = writeFragmentDoc(&out, string(fixed), voice, language)
			}
		}
		if err == nil {
			return out.String(), nil
		}
		if refused(err) {
			return "", err
		}
		// Not well-formed: speak it as plain text.
		out.Reset()
	}
	enc := xml.NewEncoder(&out)
	start := xml.StartElement{Name: xml.Name{Local: "Response"}}
	if err := enc.EncodeToken(start); err != nil {
		return "", err
	}
	if err := encodeSay(enc, message, voice, language); err != nil {
		return "", err
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return "", err
	}
	if err := enc.Flush(); err != nil {
		return "", err
	}
	return out.String(), nil
}

var errVerbNotAllowed = errors.New("contains a TwiML element that is not allowed (only Say and Pause)")

// twimlLimitError refuses a document that would hold a call open too long.
// Its text completes "field <name> ..." and never contains the message.
type twimlLimitError struct{ reason string }

func (e *twimlLimitError) Error() string { return e.reason }

func limitErr(format string, args ...any) error {
	return &twimlLimitError{reason: fmt.Sprintf(format, args...)}
}

func errLongPause() error {
	return limitErr("has a pause longer than %d s: a caller must not hold the call open", MaxPauseSeconds)
}

func errTotalPause() error {
	return limitErr("has pauses longer than %d s in total (at most %d s each): a caller must not hold the call open", MaxTotalPauseSeconds, MaxPauseSeconds)
}

// refused reports whether err refuses the message outright, rather than
// saying that it is not well-formed XML (which is then spoken as text).
func refused(err error) bool {
	var le *twimlLimitError
	return errors.Is(err, errVerbNotAllowed) || errors.As(err, &le)
}

// errNotWellFormed covers what encoding/xml lets through but XML forbids:
// content after the root element, a second root, a repeated attribute.
var errNotWellFormed = errors.New("not well-formed")

// ssml are the elements Twilio allows inside <Say>.
var ssml = map[string]bool{
	"break": true, "emphasis": true, "lang": true, "p": true, "phoneme": true,
	"prosody": true, "s": true, "say-as": true, "sub": true, "w": true,
}

func sayStart(voice, language string) xml.StartElement {
	se := xml.StartElement{Name: xml.Name{Local: "Say"}}
	if voice != "" {
		se.Attr = append(se.Attr, xml.Attr{Name: xml.Name{Local: "voice"}, Value: voice})
	}
	if language != "" {
		se.Attr = append(se.Attr, xml.Attr{Name: xml.Name{Local: "language"}, Value: language})
	}
	return se
}

func encodeSay(enc *xml.Encoder, text, voice, language string) error {
	se := sayStart(voice, language)
	if err := enc.EncodeToken(se); err != nil {
		return err
	}
	if err := enc.EncodeToken(xml.CharData(text)); err != nil {
		return err
	}
	return enc.EncodeToken(se.End())
}

// writeFragmentDoc writes <Response>, the fragments of message, </Response>.
func writeFragmentDoc(out *bytes.Buffer, message, voice, language string) error {
	toks, err := readFragment(message)
	if err != nil {
		return err
	}
	enc := xml.NewEncoder(out)
	start := xml.StartElement{Name: xml.Name{Local: "Response"}}
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	if err := encodeFragment(enc, toks, voice, language); err != nil {
		return err
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return err
	}
	return enc.Flush()
}

// maxFragmentTokens bounds the work one message can cause.
const maxFragmentTokens = 2000

// readFragment parses message as the content of one <Response> (adding the
// element when the message has none) and returns its tokens, the root's own
// start and end included. encoding/xml checks nesting but, even when Strict,
// not that a document has a single root: after the root's end it goes on
// returning text and elements at depth 0. Those are refused here as not
// well-formed, so that every token encodeFragment sees lies inside the root.
func readFragment(message string) ([]xml.Token, error) {
	body := strings.TrimSpace(message)
	if strings.HasPrefix(body, "<?xml") {
		if i := strings.Index(body, "?>"); i >= 0 {
			body = strings.TrimSpace(body[i+2:])
		}
	}
	wrapped := strings.HasPrefix(body, "<Response>") || strings.HasPrefix(body, "<Response ")
	if !wrapped {
		body = "<Response>" + body + "</Response>"
	}
	dec := xml.NewDecoder(strings.NewReader(body))
	dec.Strict = true
	var toks []xml.Token
	depth, closed := 0, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if closed {
			// Only white space, comments and processing instructions may
			// follow the root element.
			switch t := tok.(type) {
			case xml.CharData:
				if len(bytes.TrimSpace(t)) == 0 {
					continue
				}
			case xml.Comment, xml.ProcInst:
				continue
			}
			return nil, errNotWellFormed
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if duplicateAttr(t.Attr) {
				return nil, errNotWellFormed
			}
			depth++
		case xml.EndElement:
			depth--
			closed = depth == 0
		case xml.CharData:
			if depth == 0 {
				return nil, errNotWellFormed // text before the root
			}
		}
		toks = append(toks, xml.CopyToken(tok))
		if len(toks) > maxFragmentTokens {
			return nil, errors.New("too many elements")
		}
	}
	if !closed {
		return nil, errNotWellFormed
	}
	return toks, nil
}

// duplicateAttr reports whether an attribute name appears twice, which XML
// forbids and encoding/xml does not check.
func duplicateAttr(attrs []xml.Attr) bool {
	if len(attrs) > 8 {
		seen := make(map[xml.Name]bool, len(attrs))
		for _, a := range attrs {
			if seen[a.Name] {
				return true
			}
			seen[a.Name] = true
		}
		return false
	}
	for i := range attrs {
		for j := range i {
			if attrs[i].Name == attrs[j].Name {
				return true
			}
		}
	}
	return false
}

// speech adds up what a document makes Twilio do, against the limits.
type speech struct {
	pauseMillis int // every pause so far, repetitions counted
	says        int // Say repetitions so far
	chars       int // characters spoken so far, repetitions counted

	// The <Say> being read.
	loop           int
	sayChars       int
	sayBreakMillis int
}

func (s *speech) addPause(millis int) error {
	if millis > MaxPauseSeconds*1000 {
		return errLongPause()
	}
	s.pauseMillis += millis
	return s.checkPauses()
}

func (s *speech) checkPauses() error {
	if s.pauseMillis > MaxTotalPauseSeconds*1000 {
		return errTotalPause()
	}
	return nil
}

// addSay counts one <Say> spoken loop times with chars characters and
// breakMillis of SSML breaks.
func (s *speech) addSay(loop, chars, breakMillis int) error {
	s.says += loop
	s.chars += loop * chars
	s.pauseMillis += loop * breakMillis
	switch {
	case s.says > MaxSayRepetitions:
		return limitErr("speaks Say more than %d times in total (each Say counted loop times): a caller must not hold the call open", MaxSayRepetitions)
	case s.chars > MaxSpokenChars:
		return limitErr("speaks more than %d characters in total (each Say counted loop times): a caller must not hold the call open", MaxSpokenChars)
	}
	return s.checkPauses()
}

// encodeFragment writes the tokens readFragment returned, without their
// Response root, checking verbs, attributes and limits.
func encodeFragment(enc *xml.Encoder, toks []xml.Token, voice, language string) error {
	var stack []string
	var sp speech
	var pending strings.Builder // top-level text waiting to be spoken
	flush := func() error {
		t := strings.TrimSpace(pending.String())
		pending.Reset()
		if t == "" {
			return nil
		}
		if err := sp.addSay(1, utf8.RuneCountInString(t), 0); err != nil {
			return err
		}
		return encodeSay(enc, t, voice, language)
	}
	for _, tok := range toks {
		switch t := tok.(type) {
		case xml.StartElement:
			depth := len(stack)
			name := t.Name.Local
			stack = append(stack, name)
			switch {
			case depth == 0:
				if name != "Response" {
					return errVerbNotAllowed
				}
				continue
			case depth == 1:
				if name != "Say" && name != "Pause" {
					return errVerbNotAllowed
				}
				if err := flush(); err != nil {
					return err
				}
				attrs, err := verbAttrs(name, t.Attr)
				if err != nil {
					return err
				}
				t.Attr = attrs
				if name == "Say" {
					t = withDefaultAttrs(t, voice, language)
					sp.loop, sp.sayChars, sp.sayBreakMillis = sayLoop(attrs), 0, 0
				} else if err := sp.addPause(pauseMillis(attrs)); err != nil {
					return err
				}
			default:
				if stack[1] != "Say" || !ssml[name] {
					return errVerbNotAllowed
				}
				t.Attr = plainAttrs(t.Attr)
				if name == "break" {
					ms, err := breakMillis(t.Attr)
					if err != nil {
						return err
					}
					sp.sayBreakMillis += ms
					// Checked per repetition now, in total when the Say ends.
					if sp.loop*sp.sayBreakMillis+sp.pauseMillis > MaxTotalPauseSeconds*1000 {
						return errTotalPause()
					}
				}
			}
			t.Name.Space = ""
			if err := enc.EncodeToken(t); err != nil {
				return err
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return errNotWellFormed // readFragment rules this out
			}
			depth := len(stack) - 1
			stack = stack[:depth]
			if depth == 0 {
				continue
			}
			if depth == 1 && t.Name.Local == "Say" {
				if err := sp.addSay(sp.loop, sp.sayChars, sp.sayBreakMillis); err != nil {
					return err
				}
			}
			t.Name.Space = ""
			if err := enc.EncodeToken(t); err != nil {
				return err
			}
		case xml.CharData:
			switch {
			case len(stack) == 0:
				return errNotWellFormed // readFragment rules this out
			case len(stack) == 1:
				pending.Write(t)
				continue
			case stack[1] == "Pause":
				continue // <Pause> takes no text
			}
			sp.sayChars += utf8.RuneCount(t)
			if err := enc.EncodeToken(t); err != nil {
				return err
			}
		}
	}
	return flush()
}

func withDefaultAttrs(se xml.StartElement, voice, language string) xml.StartElement {
	has := map[string]bool{}
	for _, a := range se.Attr {
		has[a.Name.Local] = true
	}
	if voice != "" && !has["voice"] {
		se.Attr = append(se.Attr, xml.Attr{Name: xml.Name{Local: "voice"}, Value: voice})
	}
	if language != "" && !has["language"] {
		se.Attr = append(se.Attr, xml.Attr{Name: xml.Name{Local: "language"}, Value: language})
	}
	return se
}

// verbAttrs keeps only the attributes a caller may set on Say (voice,
// language, loop) and Pause (length), and refuses values over the limits:
// a loop other than 1 to MaxSayLoop (0 repeats forever), a length that is not
// a whole number of seconds from 1 to MaxPauseSeconds. Other attributes, and
// namespaced ones (xmlns would move the verb out of TwiML), are dropped.
func verbAttrs(verb string, attrs []xml.Attr) ([]xml.Attr, error) {
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Name.Space != "" {
			continue
		}
		switch {
		case verb == "Say" && (a.Name.Local == "voice" || a.Name.Local == "language"):
		case verb == "Say" && a.Name.Local == "loop":
			if err := checkLoop(a.Value); err != nil {
				return nil, err
			}
		case verb == "Pause" && a.Name.Local == "length":
			if err := checkPauseLength(a.Value); err != nil {
				return nil, err
			}
		default:
			continue
		}
		out = append(out, xml.Attr{Name: xml.Name{Local: a.Name.Local}, Value: a.Value})
	}
	return out, nil
}

func checkLoop(v string) error {
	n, err := strconv.Atoi(v)
	switch {
	case !isDigits(v):
		return limitErr("has a Say loop that is not a whole number from 1 to %d", MaxSayLoop)
	case err == nil && n == 0:
		return limitErr("has a Say loop of 0, which repeats forever (at most %d): a caller must not hold the call open", MaxSayLoop)
	case err != nil || n > MaxSayLoop:
		return limitErr("has a Say loop above %d: a caller must not hold the call open", MaxSayLoop)
	}
	return nil
}

func checkPauseLength(v string) error {
	n, err := strconv.Atoi(v)
	switch {
	case !isDigits(v) || (err == nil && n == 0):
		return limitErr("has a Pause length that is not a whole number of seconds from 1 to %d", MaxPauseSeconds)
	case err != nil || n > MaxPauseSeconds:
		return errLongPause()
	}
	return nil
}

// sayLoop is the loop verbAttrs kept, 1 without one.
func sayLoop(attrs []xml.Attr) int {
	for _, a := range attrs {
		if a.Name.Local == "loop" {
			n, _ := strconv.Atoi(a.Value)
			return n
		}
	}
	return 1
}

// pauseMillis is the length verbAttrs kept, Twilio's 1 s without one.
func pauseMillis(attrs []xml.Attr) int {
	for _, a := range attrs {
		if a.Name.Local == "length" {
			n, _ := strconv.Atoi(a.Value)
			return n * 1000
		}
	}
	return 1000
}

// breakTimeRE is SSML's time designation: "2s", "500ms", "1.5s".
var breakTimeRE = regexp.MustCompile(`^([0-9]{1,6})(?:\.([0-9]{1,3}))?(s|ms)$`)

// breakMillis reads an SSML <break>'s time; a break without one (strength
// only) counts as 1 s.
func breakMillis(attrs []xml.Attr) (int, error) {
	for _, a := range attrs {
		if a.Name.Space != "" || a.Name.Local != "time" {
			continue
		}
		m := breakTimeRE.FindStringSubmatch(a.Value)
		if m == nil {
			return 0, limitErr("has an SSML break time that is not like 500ms or 2s")
		}
		whole, _ := strconv.Atoi(m[1])
		frac := 0
		if m[2] != "" {
			frac, _ = strconv.Atoi((m[2] + "00")[:3]) // thousandths
		}
		ms := whole
		if m[3] == "s" {
			ms = whole*1000 + frac
		} else if frac > 0 {
			ms++ // a fraction of a millisecond
		}
		if ms > MaxPauseSeconds*1000 {
			return 0, errLongPause()
		}
		return ms, nil
	}
	return 1000, nil
}

// xmlNS is the namespace encoding/xml gives the reserved xml: prefix.
const xmlNS = "http://www.w3.org/XML/1998/namespace"

// plainAttrs keeps the attributes of SSML elements, without namespaces (no
// xmlns tricks) except xml:lang, which SSML's <lang> needs.
func plainAttrs(attrs []xml.Attr) []xml.Attr {
	out := attrs[:0:0]
	for _, a := range attrs {
		switch {
		case a.Name.Space == xmlNS && a.Name.Local == "lang":
			out = append(out, xml.Attr{Name: xml.Name{Space: xmlNS, Local: "lang"}, Value: a.Value})
		case a.Name.Space != "" || a.Name.Local == "xmlns":
		default:
			out = append(out, xml.Attr{Name: xml.Name{Local: a.Name.Local}, Value: a.Value})
		}
	}
	return out
}
