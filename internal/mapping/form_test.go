package mapping

import (
	"mime"
	"net/url"
	"reflect"
	"testing"
)

var formCases = []string{
	"", "&", "&&a=1&&", "to=%2B14155552671&message=Your+code+is+123456",
	"a=1&a=2&b=&=c&d", "k=v=w==", "a%3Db=c%26d", "%E2%82%AC=%e2%82%ac+x",
	"a=%", "a=%2", "a=%zz", "%=1", "a%4=1", "a=1;b=2", "a=1&b;=2", "x=1&x", "+=+",
	"a=b&c=%41%42%43&a=&a=%20",
}

func TestParseFormIsParseQuery(t *testing.T) {
	for _, s := range formCases {
		checkParseForm(t, s)
	}
}

func FuzzParseForm(f *testing.F) {
	for _, s := range formCases {
		f.Add(s)
	}
	f.Fuzz(checkParseForm)
}

func checkParseForm(t *testing.T, s string) {
	want, wantErr := url.ParseQuery(s)
	// Into storage that fits or not, as an Inbound's does.
	var vals [3]string
	var buf [16]byte
	into, err := parseFormInto([]byte(s), vals[:], buf[:0])
	if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(into, want) {
		t.Fatalf("parseFormInto(%q) = %#v, %v; ParseQuery %#v, %v", s, into, err, want, wantErr)
	}
	got, err := parseForm([]byte(s))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("parseForm(%q) error %v, ParseQuery error %v", s, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("parseForm(%q) = %#v, want %#v", s, got, want)
	}
	if err == nil {
		// Each key's values stay its own: appending to one never shows in another.
		for k := range got {
			got[k] = append(got[k], "appended")
		}
		for k, vs := range got {
			if len(vs) != len(want[k])+1 {
				t.Fatalf("parseForm(%q): key %q has %v after appending, want %v + appended", s, k, vs, want[k])
			}
		}
	}
}

var mediaTypeCases = []string{
	"", "application/x-www-form-urlencoded", "Application/JSON; charset=UTF-8", " text/xml ",
	"application/json;", "application/json; charset", "application/json; a=1; a=2", "application/json; a=1; a=1",
	"application/json; a=1; b=2", "form-data", "a/b/c", "a/", "/b", "a b/c", "application/problem+json",
	"text/plain; charset=\"a;b\"", "application/json;;", "ÄPPLICATION/json", "application/json; a*0=x; a*1=y",
	"application/vnd.api+json ; x=1", "te(xt/plain", "\tapplication/xml\t;x=y",
}

func TestMediaTypeIsParseMediaType(t *testing.T) {
	for _, s := range mediaTypeCases {
		checkMediaType(t, s)
	}
}

func FuzzMediaType(f *testing.F) {
	for _, s := range mediaTypeCases {
		f.Add(s)
	}
	f.Fuzz(checkMediaType)
}

func checkMediaType(t *testing.T, s string) {
	want, _, _ := mime.ParseMediaType(s)
	if got := mediaType(s); got != want {
		t.Fatalf("mediaType(%q) = %q, ParseMediaType gives %q", s, got, want)
	}
}
