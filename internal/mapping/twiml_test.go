package mapping

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestTwiML(t *testing.T) {
	tests := []struct {
		name, in, voice, lang string
		want                  string
		wantErr               bool
	}{
		{name: "plain text", in: "Your code is 1 2 3", want: "<Response><Say>Your code is 1 2 3</Say></Response>"},
		{name: "plain text escaped", in: `Tom & "Jerry" 'x'`, want: "<Response><Say>Tom &amp; &#34;Jerry&#34; &#39;x&#39;</Say></Response>"},
		{name: "voice and language", in: "Code 1", voice: "Polly.Joanna", lang: "en-US", want: `<Response><Say voice="Polly.Joanna" language="en-US">Code 1</Say></Response>`},
		{name: "PingOne fragments", in: `<Say>1</Say> <Pause length="1"/><Say>2</Say> <Pause length="1"/>`,
			want: `<Response><Say>1</Say><Pause length="1"></Pause><Say>2</Say><Pause length="1"></Pause></Response>`},
		{name: "text around fragments", in: `Your code is <Say>0</Say><Pause length="1"/><Say>1</Say>. Bye`,
			want: `<Response><Say>Your code is</Say><Say>0</Say><Pause length="1"></Pause><Say>1</Say><Say>. Bye</Say></Response>`},
		{name: "fragments get the voice unless they have one", in: `<Say>1</Say><Say voice="man">2</Say>`, voice: "alice",
			want: `<Response><Say voice="alice">1</Say><Say voice="man">2</Say></Response>`},
		{name: "a whole Response", in: `<?xml version="1.0"?><Response><Say>1</Say></Response>`, want: "<Response><Say>1</Say></Response>"},
		{name: "SSML kept", in: `<Say>Code <say-as interpret-as="digits">123</say-as><break time="1s"/><lang xml:lang="fr-FR">un</lang></Say>`,
			want: `<Response><Say>Code <say-as interpret-as="digits">123</say-as><break time="1s"></break><lang xml:lang="fr-FR">un</lang></Say></Response>`},
		{name: "entities in fragments stay escaped", in: `<Say>A &amp; B &lt;C&gt;</Say>`, want: "<Response><Say>A &amp; B &lt;C&gt;</Say></Response>"},
		{name: "unsafe attributes dropped", in: `<Say loop="0" xmlns="urn:x" voice="alice">1</Say><Pause length="3600"/><Pause length="2" foo="x"/>`,
			want: `<Response><Say voice="alice">1</Say><Pause></Pause><Pause length="2"></Pause></Response>`},
		{name: "text inside Pause dropped", in: `<Pause length="1">ignored</Pause>`, want: `<Response><Pause length="1"></Pause></Response>`},
		{name: "bare ampersand around fragments", in: `Tom & Jerry: <Say>1</Say> <Pause length="1"/> & bye`,
			want: `<Response><Say>Tom &amp; Jerry:</Say><Say>1</Say><Pause length="1"></Pause><Say>&amp; bye</Say></Response>`},
		{name: "not well-formed is spoken", in: `Code < 5 & > 3 <Say>`, want: "<Response><Say>Code &lt; 5 &amp; &gt; 3 &lt;Say&gt;</Say></Response>"},
		{name: "unclosed verb is spoken", in: `<Say>1`, want: "<Response><Say>&lt;Say&gt;1</Say></Response>"},
		{name: "empty", in: "", want: "<Response><Say></Say></Response>"},
		{name: "Dial refused", in: `<Dial>+15005550006</Dial>`, wantErr: true},
		{name: "Play refused", in: `<Say>1</Say><Play>https://evil.example/a.mp3</Play>`, wantErr: true},
		{name: "Redirect refused", in: `<Redirect>https://evil.example/twiml</Redirect>`, wantErr: true},
		{name: "Dial inside Say refused", in: `<Say><Dial>+1</Dial></Say>`, wantErr: true},
		{name: "other root refused", in: `<Foo><Say>1</Say></Foo>`, wantErr: true},
		{name: "Response with Dial refused", in: `<Response><Dial>+1</Dial></Response>`, wantErr: true},
		{name: "HTML-ish markup refused", in: `Your code is <b>1</b>`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TwiML(tt.in, tt.voice, tt.lang)
			if tt.wantErr {
				if err == nil || !errors.Is(err, errVerbNotAllowed) {
					t.Fatalf("got %q, %v; want errVerbNotAllowed", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if err := checkTwiML(got); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkTwiML verifies doc is well-formed XML with one Response root holding
// only Say and Pause, and only SSML inside Say.
func checkTwiML(doc string) error {
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	var stack []string
	roots := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			switch len(stack) {
			case 0:
				roots++
				if name != "Response" || roots > 1 {
					return errors.New("root is not a single Response: " + name)
				}
			case 1:
				if name != "Say" && name != "Pause" {
					return errors.New("verb not allowed: " + name)
				}
			default:
				if stack[1] != "Say" || !ssml[name] {
					return errors.New("element not allowed: " + name)
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 && strings.TrimSpace(string(t)) != "" {
				return errors.New("text outside Response")
			}
		}
	}
	if roots != 1 {
		return errors.New("no Response")
	}
	return nil
}
