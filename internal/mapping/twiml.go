package mapping

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// TwiML turns a voice message into a TwiML document for the Calls API's Twiml
// parameter. Products such as PingOne wrap each digit in fragments like
// `<Say>1</Say> <Pause length="1"/>` (their beforeTag/afterTag settings): those
// survive. Text outside any verb is spoken with <Say>. Only Say (with its SSML
// children) and Pause are allowed: a caller must not be able to make Twilio
// <Dial>, <Play> a URL or <Redirect>. A bare "&" is read as text; anything else
// that is not well-formed XML is spoken as it is. Everything is written by encoding/xml, so &, < and quotes are escaped.
func TwiML(message, voice, language string) (string, error) {
	var out bytes.Buffer
	enc := xml.NewEncoder(&out)
	start := xml.StartElement{Name: xml.Name{Local: "Response"}}
	if err := enc.EncodeToken(start); err != nil {
		return "", err
	}
	if strings.Contains(message, "<") {
		err := encodeFragment(enc, message, voice, language)
		if err != nil && !errors.Is(err, errVerbNotAllowed) {
			// A bare "&" in the text around the fragments ("Tom & Jerry <Say>1</Say>")
			// is text, not markup: read it as "&amp;" and try once more.
			if fixed, changed := escapeBareAmpersands([]byte(message)); changed {
				out.Reset()
				enc = xml.NewEncoder(&out)
				if err = enc.EncodeToken(start); err == nil {
					err = encodeFragment(enc, string(fixed), voice, language)
				}
			}
		}
		if err == nil {
			if err := enc.EncodeToken(start.End()); err != nil {
				return "", err
			}
			if err := enc.Flush(); err != nil {
				return "", err
			}
			return out.String(), nil
		}
		if errors.Is(err, errVerbNotAllowed) {
			return "", err
		}
		// Not well-formed: speak it as plain text.
		out.Reset()
		enc = xml.NewEncoder(&out)
		if err := enc.EncodeToken(start); err != nil {
			return "", err
		}
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

func encodeFragment(enc *xml.Encoder, fragment, voice, language string) error {
	body := strings.TrimSpace(fragment)
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
	var stack []string
	var pending strings.Builder // top-level text waiting to be spoken
	flush := func() error {
		t := strings.TrimSpace(pending.String())
		pending.Reset()
		if t == "" {
			return nil
		}
		return encodeSay(enc, t, voice, language)
	}
	var toks []xml.Token
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		toks = append(toks, xml.CopyToken(tok))
		if len(toks) > 2000 {
			return errors.New("too many elements")
		}
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
				t.Attr = verbAttrs(name, t.Attr)
				if name == "Say" {
					t = withDefaultAttrs(t, voice, language)
				}
			default:
				if stack[1] != "Say" || !ssml[name] {
					return errVerbNotAllowed
				}
				t.Attr = plainAttrs(t.Attr)
			}
			t.Name.Space = ""
			if err := enc.EncodeToken(t); err != nil {
				return err
			}
		case xml.EndElement:
			depth := len(stack) - 1
			stack = stack[:depth]
			if depth == 0 {
				continue
			}
			t.Name.Space = ""
			if err := enc.EncodeToken(t); err != nil {
				return err
			}
		case xml.CharData:
			if len(stack) == 1 {
				pending.Write(t)
				continue
			}
			if stack[1] == "Pause" {
				continue // <Pause> takes no text
			}
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
// language) and Pause (length, 1 to 60 seconds). Say's loop="0" would repeat
// forever, and xmlns would move the verb out of TwiML.
func verbAttrs(verb string, attrs []xml.Attr) []xml.Attr {
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Name.Space != "" {
			continue
		}
		switch {
		case verb == "Say" && (a.Name.Local == "voice" || a.Name.Local == "language"):
		case verb == "Pause" && a.Name.Local == "length" && validPause(a.Value):
		default:
			continue
		}
		out = append(out, xml.Attr{Name: xml.Name{Local: a.Name.Local}, Value: a.Value})
	}
	return out
}

func validPause(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && isDigits(v) && n >= 1 && n <= 60
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
