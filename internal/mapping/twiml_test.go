package mapping

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTwiML(t *testing.T) {
	notAllowed := errVerbNotAllowed.Error()
	tests := []struct {
		name, in, voice, lang string
		want                  string
		wantErr               string // a refusal: substring of the error
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
		{name: "a whole Response with space and a comment after it", in: "<Response><Say>1</Say></Response>\n <!-- end -->\n", want: "<Response><Say>1</Say></Response>"},
		{name: "SSML kept", in: `<Say>Code <say-as interpret-as="digits">123</say-as><break time="1s"/><lang xml:lang="fr-FR">un</lang></Say>`,
			want: `<Response><Say>Code <say-as interpret-as="digits">123</say-as><break time="1s"></break><lang xml:lang="fr-FR">un</lang></Say></Response>`},
		{name: "entities in fragments stay escaped", in: `<Say>A &amp; B &lt;C&gt;</Say>`, want: "<Response><Say>A &amp; B &lt;C&gt;</Say></Response>"},
		{name: "unsafe attributes dropped", in: `<Say xmlns="urn:x" voice="alice" foo="1">1</Say><Pause length="2" foo="x"/><Pause/>`,
			want: `<Response><Say voice="alice">1</Say><Pause length="2"></Pause><Pause></Pause></Response>`},
		{name: "text inside Pause dropped", in: `<Pause length="1">ignored</Pause>`, want: `<Response><Pause length="1"></Pause></Response>`},
		{name: "bare ampersand around fragments", in: `Tom & Jerry: <Say>1</Say> <Pause length="1"/> & bye`,
			want: `<Response><Say>Tom &amp; Jerry:</Say><Say>1</Say><Pause length="1"></Pause><Say>&amp; bye</Say></Response>`},
		{name: "not well-formed is spoken", in: `Code < 5 & > 3 <Say>`, want: "<Response><Say>Code &lt; 5 &amp; &gt; 3 &lt;Say&gt;</Say></Response>"},
		{name: "unclosed verb is spoken", in: `<Say>1`, want: "<Response><Say>&lt;Say&gt;1</Say></Response>"},
		{name: "empty", in: "", want: "<Response><Say></Say></Response>"},

		// Content after the root: encoding/xml returns it with no element
		// open, which used to index past the end of the element stack.
		{name: "text after Response is spoken", in: `<Response><Say>1</Say></Response>trailing`,
			want: "<Response><Say>&lt;Response&gt;&lt;Say&gt;1&lt;/Say&gt;&lt;/Response&gt;trailing</Say></Response>"},
		{name: "text after a closing Response in fragments is spoken", in: `<Say>1</Say></Response>trailing<Response>`,
			want: "<Response><Say>&lt;Say&gt;1&lt;/Say&gt;&lt;/Response&gt;trailing&lt;Response&gt;</Say></Response>"},
		{name: "text after the closing tag of a verb", in: `<Response><Say>1</Say>tail</Response>`, want: "<Response><Say>1</Say><Say>tail</Say></Response>"},
		{name: "a second Response is spoken", in: `<Response></Response><Response><Say>2</Say></Response>`,
			want: "<Response><Say>&lt;Response&gt;&lt;/Response&gt;&lt;Response&gt;&lt;Say&gt;2&lt;/Say&gt;&lt;/Response&gt;</Say></Response>"},
		{name: "an element after Response is spoken", in: `<Response><Say>1</Say></Response><Dial>+1</Dial>`,
			want: "<Response><Say>&lt;Response&gt;&lt;Say&gt;1&lt;/Say&gt;&lt;/Response&gt;&lt;Dial&gt;+1&lt;/Dial&gt;</Say></Response>"},
		{name: "unbalanced closing tag is spoken", in: `<Say>1</Say></Say>`, want: "<Response><Say>&lt;Say&gt;1&lt;/Say&gt;&lt;/Say&gt;</Say></Response>"},
		{name: "closing Say with no opening is spoken", in: `</Say>`, want: "<Response><Say>&lt;/Say&gt;</Say></Response>"},
		{name: "closing Response with no opening is spoken", in: `</Response>x`, want: "<Response><Say>&lt;/Response&gt;x</Say></Response>"},
		{name: "repeated attribute is spoken", in: `<Say loop="1" loop="0">1</Say>`, want: "<Response><Say>&lt;Say loop=&#34;1&#34; loop=&#34;0&#34;&gt;1&lt;/Say&gt;</Say></Response>"},
		{name: "nested Response refused", in: `<Response><Response>1</Response></Response>`, wantErr: notAllowed},

		{name: "Dial refused", in: `<Dial>+15005550006</Dial>`, wantErr: notAllowed},
		{name: "Play refused", in: `<Say>1</Say><Play>https://evil.example/a.mp3</Play>`, wantErr: notAllowed},
		{name: "Redirect refused", in: `<Redirect>https://evil.example/twiml</Redirect>`, wantErr: notAllowed},
		{name: "Dial inside Say refused", in: `<Say><Dial>+1</Dial></Say>`, wantErr: notAllowed},
		{name: "Pause inside Say refused", in: `<Say><Pause length="1"/></Say>`, wantErr: notAllowed},
		{name: "other root refused", in: `<Foo><Say>1</Say></Foo>`, wantErr: notAllowed},
		{name: "Response with Dial refused", in: `<Response><Dial>+1</Dial></Response>`, wantErr: notAllowed},
		{name: "HTML-ish markup refused", in: `Your code is <b>1</b>`, wantErr: notAllowed},

		// Toll fraud: nothing may hold the call open; refused, never shortened.
		{name: "loop kept", in: `<Say loop="2">1 2 3</Say>`, voice: "alice", want: `<Response><Say loop="2" voice="alice">1 2 3</Say></Response>`},
		{name: "loop 3 kept", in: `<Response><Say voice="alice" loop="3">1</Say></Response>`, want: `<Response><Say voice="alice" loop="3">1</Say></Response>`},
		{name: "loop 0 refused", in: `<Say loop="0">1</Say>`, wantErr: "loop of 0, which repeats forever"},
		{name: "loop above 3 refused", in: `<Say loop="4">1</Say>`, wantErr: "loop above 3"},
		{name: "huge loop refused", in: `<Say loop="99999999999999999999">1</Say>`, wantErr: "loop above 3"},
		{name: "loop not a number refused", in: `<Say loop="-1">1</Say>`, wantErr: "loop that is not a whole number"},
		{name: "loop refused in a whole Response", in: `<Response><Say voice="alice" loop="0">1 2 3</Say><Pause length="2"/></Response>`, wantErr: "loop of 0"},
		{name: "pause of 10 s kept", in: `<Pause length="10"/>`, want: `<Response><Pause length="10"></Pause></Response>`},
		{name: "pause over 10 s refused", in: `<Pause length="11"/>`, wantErr: "pause longer than 10 s"},
		{name: "pause of an hour refused", in: `<Say>1</Say><Pause length="3600"/>`, wantErr: "pause longer than 10 s"},
		{name: "pause length 0 refused", in: `<Pause length="0"/>`, wantErr: "not a whole number of seconds from 1 to 10"},
		{name: "pause length not a number refused", in: `<Pause length="1.5"/>`, wantErr: "not a whole number of seconds"},
		{name: "pauses of 30 s in total kept", in: strings.Repeat(`<Pause length="10"/>`, 3), want: "<Response>" + strings.Repeat(`<Pause length="10"></Pause>`, 3) + "</Response>"},
		{name: "pauses over 30 s in total refused", in: strings.Repeat(`<Pause length="10"/>`, 3) + `<Pause/>`, wantErr: "pauses longer than 30 s in total"},
		{name: "repeated 60 s pauses refused", in: strings.Repeat(`<Pause length="60"/>`, 50), wantErr: "pause longer than 10 s"},
		{name: "many default pauses refused", in: strings.Repeat(`<Say>1</Say><Pause/>`, 31), wantErr: "pauses longer than 30 s in total"},
		{name: "SSML break over 10 s refused", in: `<Say>1<break time="11s"/></Say>`, wantErr: "pause longer than 10 s"},
		{name: "SSML break in ms over 10 s refused", in: `<Say>1<break time="10001ms"/></Say>`, wantErr: "pause longer than 10 s"},
		{name: "SSML breaks count toward the total", in: `<Say>` + strings.Repeat(`<break time="10s"/>`, 4) + `</Say>`, wantErr: "pauses longer than 30 s in total"},
		{name: "SSML breaks count once per loop", in: `<Say loop="3"><break time="9s"/><break time="2s"/></Say>`, wantErr: "pauses longer than 30 s in total"},
		{name: "SSML breaks and pauses add up", in: `<Say><break time="2.5s"/></Say>` + strings.Repeat(`<Pause length="10"/>`, 3), wantErr: "pauses longer than 30 s in total"},
		{name: "SSML break time not a time refused", in: `<Say><break time="forever"/></Say>`, wantErr: "break time that is not like 500ms or 2s"},
		{name: "SSML breaks within the limits kept", in: `<Say loop="3">1<break time="500ms"/>2<break strength="strong"/></Say>`,
			want: `<Response><Say loop="3">1<break time="500ms"></break>2<break strength="strong"></break></Say></Response>`},
		{name: "Say repetitions over the bound refused", in: strings.Repeat(`<Say loop="3">1</Say>`, 14), wantErr: "speaks Say more than 40 times in total"},
		{name: "Say repetitions counting text outside verbs", in: strings.Repeat(`<Say>1</Say>x`, 21), wantErr: "speaks Say more than 40 times in total"},
		{name: "spoken text over the bound refused", in: `<Say loop="3">` + strings.Repeat("a", MaxSpokenChars/3+1) + `</Say>`, wantErr: "speaks more than 4000 characters in total"},
		{name: "a 10-digit code three times over kept", in: `Your code is ` + strings.Repeat(`<Say loop="3">1</Say><Pause length="1"/>`, 10),
			want: `<Response><Say>Your code is</Say>` + strings.Repeat(`<Say loop="3">1</Say><Pause length="1"></Pause>`, 10) + `</Response>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TwiML(tt.in, tt.voice, tt.lang)
			if tt.wantErr != "" {
				if err == nil || !refused(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want a refusal containing %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.in) {
					t.Errorf("the error %q contains the message", err)
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
// only Say and Pause, and only SSML inside Say, with no repeated attribute,
// and that it keeps within the limits: loop 1 to MaxSayLoop, pauses (Pause
// length, SSML break time) of at most MaxPauseSeconds each and
// MaxTotalPauseSeconds in all, at most MaxSayRepetitions Say repetitions.
// It reads the document independently of TwiML's own code.
func checkTwiML(doc string) error {
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	var stack []string
	roots := 0
	loop, says, pauseMillis := 1, 0, 0
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
			attrs := map[xml.Name]string{}
			for _, a := range t.Attr {
				if _, dup := attrs[a.Name]; dup {
					return fmt.Errorf("attribute %s repeated on %s", a.Name.Local, name)
				}
				attrs[a.Name] = a.Value
			}
			switch len(stack) {
			case 0:
				roots++
				if name != "Response" || roots > 1 {
					return errors.New("root is not a single Response: " + name)
				}
			case 1:
				switch name {
				case "Say":
					loop = 1
					if v, ok := attrs[xml.Name{Local: "loop"}]; ok {
						n, err := strconv.Atoi(v)
						if err != nil || n < 1 || n > MaxSayLoop {
							return fmt.Errorf("loop %q", v)
						}
						loop = n
					}
					says += loop
				case "Pause":
					n := 1
					if v, ok := attrs[xml.Name{Local: "length"}]; ok {
						if n, err = strconv.Atoi(v); err != nil || n < 1 || n > MaxPauseSeconds {
							return fmt.Errorf("pause length %q", v)
						}
					}
					pauseMillis += n * 1000
				default:
					return errors.New("verb not allowed: " + name)
				}
			default:
				if stack[1] != "Say" || !ssml[name] {
					return errors.New("element not allowed: " + name)
				}
				if name == "break" {
					ms := 1000
					if v, ok := attrs[xml.Name{Local: "time"}]; ok {
						d, err := time.ParseDuration(v)
						if err != nil || d > MaxPauseSeconds*time.Second {
							return fmt.Errorf("break time %q", v)
						}
						ms = int(d.Milliseconds())
					}
					pauseMillis += loop * ms
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
	if says > MaxSayRepetitions {
		return fmt.Errorf("%d Say repetitions", says)
	}
	if pauseMillis > MaxTotalPauseSeconds*1000 {
		return fmt.Errorf("%d ms of pauses", pauseMillis)
	}
	return nil
}
