package mapping

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// oneField compiles a mapping with one text field "v" read from sources.
func oneField(t *testing.T, request string, sources ...string) *Mapping {
	t.Helper()
	quoted := make([]string, len(sources))
	for i, s := range sources {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	if request == "" {
		request = `{"methods": ["GET", "POST", "PUT"]}`
	}
	src := `{
	  "request": ` + request + `,
	  "fields": [{"name": "v", "from": [` + strings.Join(quoted, ",") + `], "max_length": 100000}],
	  "twilio": {"messages": {"To": "'+15005550006'", "Body": "v"}},
	  "reply": {"success": {"format": "empty"}, "failure": {"format": "empty"}}
	}`
	return mustCompile(t, src, Config{})
}

const twilioPath = `{"methods": ["POST"], "path": "/2010-04-01/Accounts/{AccountSid}/Messages{ext}"}`

func TestSources(t *testing.T) {
	deep := strings.Repeat("<a>", 32) + "x" + strings.Repeat("</a>", 32)
	tests := []struct {
		name    string
		request string // RequestSpec JSON, default: GET, POST, PUT and auto format
		sources []string
		in      req
		want    string
	}{
		{name: "form", sources: []string{"form:b"}, in: form("a=1&b=two+words"), want: "two words"},
		{name: "form keeps an encoded plus", sources: []string{"form:to"}, in: form("to=%2B14155552671"), want: "+14155552671"},
		{name: "form turns a raw plus into a space", sources: []string{"form:to"}, in: form("to=+14155552671"), want: " 14155552671"},
		{name: "form ignores the query", sources: []string{"form:a"}, in: req{target: "/sms?a=q", contentType: "application/x-www-form-urlencoded", body: "b=1"}, want: ""},
		{name: "form keys are case sensitive", sources: []string{"form:to"}, in: form("To=1"), want: ""},
		{name: "first occurrence of a repeated key", sources: []string{"form:a"}, in: form("a=1&a=2"), want: "1"},
		{name: "query on GET", sources: []string{"query:to"}, in: req{method: "GET", target: "/sms?to=%2B1&msg=hi"}, want: "+1"},
		{name: "query on POST", sources: []string{"query:k"}, in: req{target: "/sms?k=v", contentType: "application/json", body: `{}`}, want: "v"},
		{name: "param prefers the form", sources: []string{"param:a"}, in: req{target: "/sms?a=query", contentType: "application/x-www-form-urlencoded", body: "a=form"}, want: "form"},
		{name: "param falls back to the query", sources: []string{"param:a"}, in: req{target: "/sms?a=query", contentType: "application/x-www-form-urlencoded", body: "b=1"}, want: "query"},
		{name: "json top level", sources: []string{"json:to"}, in: jsonReq(`{"to":"+14155552671"}`), want: "+14155552671"},
		{name: "json nested path", sources: []string{"json:payload.code"}, in: jsonReq(`{"to":"1","payload":{"code":"012345"}}`), want: "012345"},
		{name: "json array element", sources: []string{"json:to.1"}, in: jsonReq(`{"to":["a","b"]}`), want: "b"},
		{name: "json integer keeps its digits", sources: []string{"json:phone"}, in: jsonReq(`{"phone":14155552671}`), want: "14155552671"},
		{name: "json big integer keeps its digits", sources: []string{"json:n"}, in: jsonReq(`{"n":123456789012345678901234}`), want: "123456789012345678901234"},
		{name: "json negative integer", sources: []string{"json:n"}, in: jsonReq(`{"n":-42}`), want: "-42"},
		{name: "json boolean", sources: []string{"json:b"}, in: jsonReq(`{"b":true}`), want: "true"},
		{name: "json null is absent", sources: []string{"json:n", "json:m"}, in: jsonReq(`{"n":null,"m":"x"}`), want: "x"},
		{name: "json object as raw JSON", sources: []string{"json:payload"}, in: jsonReq(`{"payload": {"code": "1"}}`), want: `{"code": "1"}`},
		{name: "json escapes decoded", sources: []string{"json:m"}, in: jsonReq(`{"m":"a\"b\nc\u00e9"}`), want: "a\"b\nc\u00e9"},
		{name: "json missing", sources: []string{"json:x"}, in: jsonReq(`{"m":"a"}`), want: ""},
		{name: "json raw line break repaired", sources: []string{"json:m"}, in: jsonReq("{\"m\":\"line 1\nline 2\"}"), want: "line 1\nline 2"},
		{name: "xml path", sources: []string{"xml:sms/to"}, in: req{contentType: "application/xml", body: `<sms><to>+1</to><msg>hi</msg></sms>`}, want: "+1"},
		{name: "xml bare name", sources: []string{"xml:msg"}, in: req{contentType: "text/xml", body: `<?xml version="1.0"?><sms><to>+1</to><msg> hi &amp; bye </msg></sms>`}, want: "hi & bye"},
		{name: "xml attribute by path", sources: []string{"xml:sms/to/@type"}, in: req{contentType: "application/xml", body: `<sms><to type="mobile">1</to></sms>`}, want: "mobile"},
		{name: "xml attribute by name", sources: []string{"xml:@type"}, in: req{contentType: "application/xml", body: `<sms><to type="mobile">1</to></sms>`}, want: "mobile"},
		{name: "xml first occurrence", sources: []string{"xml:to"}, in: req{contentType: "application/xml", body: `<sms><to>1</to><to>2</to></sms>`}, want: "1"},
		{name: "xml CDATA", sources: []string{"xml:msg"}, in: req{contentType: "application/xml", body: `<sms><msg><![CDATA[a < b]]></msg></sms>`}, want: "a < b"},
		{name: "xml bare ampersand repaired", sources: []string{"xml:msg"}, in: req{contentType: "application/xml", body: `<sms><msg>Tom & Jerry &amp; co</msg></sms>`}, want: "Tom & Jerry & co"},
		{name: "xml at the depth limit", sources: []string{"xml:a"}, in: req{contentType: "application/xml", body: deep}, want: "x"},
		{name: "header", sources: []string{"header:x-api-key"}, in: req{header: map[string]string{"X-Api-Key": "k1"}}, want: "k1"},
		{name: "path segment", request: twilioPath, sources: []string{"path:AccountSid"}, in: req{target: "/2010-04-01/Accounts/AC123/Messages.json"}, want: "AC123"},
		{name: "path ext json", request: twilioPath, sources: []string{"path:ext"}, in: req{target: "/2010-04-01/Accounts/AC1/Messages.json"}, want: ".json"},
		{name: "path ext xml", request: twilioPath, sources: []string{"path:ext"}, in: req{target: "/2010-04-01/Accounts/AC1/Messages.xml"}, want: ".xml"},
		{name: "path ext none", request: twilioPath, sources: []string{"path:ext"}, in: req{target: "/2010-04-01/Accounts/AC1/Messages"}, want: ""},
		{name: "basic user", sources: []string{"basic:user"}, in: req{user: "AC1", pass: "tok"}, want: "AC1"},
		{name: "basic password", sources: []string{"basic:password"}, in: req{user: "AC1", pass: "tok:en"}, want: "tok:en"},
		{name: "basic absent", sources: []string{"basic:user"}, in: req{}, want: ""},
		{name: "any from form", sources: []string{"any:to"}, in: form("to=1"), want: "1"},
		{name: "any from query", sources: []string{"any:to"}, in: req{method: "GET", target: "/sms?to=2"}, want: "2"},
		{name: "any from json", sources: []string{"any:to"}, in: jsonReq(`{"to":"3"}`), want: "3"},
		{name: "any json key with a dot", sources: []string{"any:a.b"}, in: jsonReq(`{"a.b":"dot","a":{"b":"nested"}}`), want: "dot"},
		{name: "any from xml", sources: []string{"any:to"}, in: req{contentType: "application/xml", body: `<r><to>4</to></r>`}, want: "4"},
		{name: "any prefers the form over the query", sources: []string{"any:to"}, in: req{target: "/sms?to=q", contentType: "application/x-www-form-urlencoded", body: "to=f"}, want: "f"},
		{name: "body", sources: []string{"body"}, in: req{contentType: "text/plain", body: " Your code is 1 \n"}, want: " Your code is 1 \n"},
		{name: "first non-empty source wins", sources: []string{"form:a", "form:b", "form:c"}, in: form("a=&b=2&c=3"), want: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := oneField(t, tt.request, tt.sources...)
			v, err := run(m, tt.in, Route{})
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Field("v"); got != tt.want {
				t.Errorf("v = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name       string
		format     string
		in         req
		wantFormat string
		wantV      string
	}{
		{name: "auto form by type", in: form("v=1"), wantFormat: FormatForm, wantV: "1"},
		{name: "auto json by type", in: jsonReq(`{"v":"1"}`), wantFormat: FormatJSON, wantV: "1"},
		{name: "auto json suffix", in: req{contentType: "application/vnd.api+json; charset=utf-8", body: `{"v":"1"}`}, wantFormat: FormatJSON, wantV: "1"},
		{name: "auto xml by type", in: req{contentType: "text/xml; charset=utf-8", body: `<r><v>1</v></r>`}, wantFormat: FormatXML, wantV: "1"},
		{name: "auto sniffs json", in: req{contentType: "text/plain", body: ` {"v":"1"}`}, wantFormat: FormatJSON, wantV: "1"},
		{name: "auto sniffs xml", in: req{body: `<r><v>1</v></r>`}, wantFormat: FormatXML, wantV: "1"},
		{name: "auto sniffs form", in: req{body: `v=1`}, wantFormat: FormatForm, wantV: "1"},
		{name: "auto falls back to text", in: req{body: `hello`}, wantFormat: FormatText, wantV: ""},
		{name: "empty body is none", in: req{method: "GET", target: "/sms?v=q"}, wantFormat: FormatNone, wantV: "q"},
		{name: "blank body is none", in: form("  \n"), wantFormat: FormatNone, wantV: ""},
		{name: "forced form ignores the content type", format: FormatForm, in: jsonReq(`v=1`), wantFormat: FormatForm, wantV: "1"},
		{name: "forced json", format: FormatJSON, in: form(`{"v":"1"}`), wantFormat: FormatJSON, wantV: "1"},
		{name: "forced xml", format: FormatXML, in: form(`<r><v>1</v></r>`), wantFormat: FormatXML, wantV: "1"},
		// Growing the element stack used to copy a strings.Builder that had
		// been written to, which panics on the next write.
		{name: "xml text after a child", in: req{body: `<v>1<a/>2</v>`}, wantFormat: FormatXML, wantV: "12"},
		{name: "xml text around deeper children", in: req{body: `<r>x<v>1<a>y<b/>z</a>2<c/>3</v>w</r>`}, wantFormat: FormatXML, wantV: "123"},
		{name: "text reads nothing but the body", format: FormatText, in: form(`v=1`), wantFormat: FormatText, wantV: ""},
		{name: "none ignores a body", format: FormatNone, in: req{method: "POST", target: "/sms?v=q", contentType: "application/x-www-form-urlencoded", body: "v=1"}, wantFormat: FormatNone, wantV: "q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			request := `{"methods": ["GET", "POST"], "format": "` + tt.format + `"}`
			if tt.format == "" {
				request = ""
			}
			m := oneField(t, request, "any:v")
			r, body := tt.in.build()
			in, err := m.ParseRequest(r, body)
			if err != nil {
				t.Fatal(err)
			}
			if in.Format != tt.wantFormat {
				t.Errorf("Format = %q, want %q", in.Format, tt.wantFormat)
			}
			v, err := m.Extract(in, Route{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Field("v") != tt.wantV {
				t.Errorf("v = %q, want %q", v.Field("v"), tt.wantV)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	deep := strings.Repeat("<a>", 33) + "x" + strings.Repeat("</a>", 33)
	many := "<r>" + strings.Repeat("<a>1</a>", maxXMLNodes) + "</r>"
	tests := []struct {
		name       string
		request    string
		in         req
		field      string
		status     int
		wantReason string
	}{
		{name: "invalid json", in: jsonReq(`{"to": "1",}`), field: "body", status: 400, wantReason: "is not valid JSON"},
		{name: "unescaped quote in json", in: jsonReq(`{"m": "say "hi""}`), field: "body", status: 400, wantReason: "is not valid JSON"},
		{name: "truncated json", in: jsonReq(`{"to": "1"`), field: "body", status: 400, wantReason: "is not valid JSON"},
		{name: "invalid xml", in: req{contentType: "application/xml", body: `<r><to>1</r>`}, field: "body", status: 400, wantReason: "is not valid XML: malformed document"},
		{name: "xml with only a declaration", in: req{contentType: "application/xml", body: `<?xml version="1.0"?>`}, field: "body", status: 400, wantReason: "incomplete document"},
		{name: "unclosed xml", in: req{contentType: "application/xml", body: `<r><to>1</to>`}, field: "body", status: 400, wantReason: "is not valid XML"},
		{name: "xml too deep", in: req{contentType: "application/xml", body: deep}, field: "body", status: 400, wantReason: "too large or too deep"},
		{name: "xml too many elements", in: req{contentType: "application/xml", body: many}, field: "body", status: 400, wantReason: "too large or too deep"},
		{name: "invalid form escape", in: form("v=%zz"), field: "body", status: 400, wantReason: "not a valid form-encoded body"},
		{name: "too many form keys", in: form(strings.Repeat("a=1&", maxFormKeys)), field: "body", status: 400, wantReason: "too many form parameters"},
		{name: "wrong method", request: `{"methods": ["POST"]}`, in: req{method: "GET", target: "/sms?v=1"}, field: "method", status: 405, wantReason: "must be one of POST"},
		{name: "wrong method lists all", request: `{"methods": ["POST", "PUT"]}`, in: req{method: "DELETE"}, field: "method", status: 405, wantReason: "must be one of POST, PUT"},
		{name: "path mismatch", request: twilioPath, in: req{target: "/2010-04-01/Accounts/AC1/Calls.json"}, field: "path", status: 404, wantReason: "does not match /2010-04-01/Accounts/{AccountSid}/Messages{ext}"},
		{name: "path too short", request: twilioPath, in: req{target: "/2010-04-01/Accounts/AC1"}, field: "path", status: 404, wantReason: "does not match"},
		{name: "path with an empty segment", request: twilioPath, in: req{target: "/2010-04-01/Accounts//Messages.json"}, field: "path", status: 404, wantReason: "does not match"},
		{name: "path with an unknown extension", request: twilioPath, in: req{target: "/2010-04-01/Accounts/AC1/Messages.csv"}, field: "path", status: 404, wantReason: "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := oneField(t, tt.request, "any:v")
			_, err := run(m, tt.in, Route{})
			if err == nil {
				t.Fatal("no error")
			}
			ie := inputErr(t, err)
			if ie.Field != tt.field || ie.HTTPStatus() != tt.status || !strings.Contains(ie.Reason, tt.wantReason) {
				t.Errorf("got field %q status %d reason %q, want %q %d %q", ie.Field, ie.HTTPStatus(), ie.Reason, tt.field, tt.status, tt.wantReason)
			}
			if !strings.HasPrefix(ie.Error(), fmt.Sprintf("field %q ", tt.field)) {
				t.Errorf("Error() = %q", ie.Error())
			}
		})
	}
}

func TestRequestMetadata(t *testing.T) {
	src := `{
	  "request": ` + twilioPath + `,
	  "fields": [
	    {"name": "meta", "value": "request.method + ' ' + request.path + ' ' + request.format + ' ' + request.ext + ' ' + request.content_type"},
	    {"name": "routed", "value": "route.channel + ' ' + route.account"}
	  ],
	  "twilio": {"messages": {"To": "'+15005550006'", "Body": "meta"}},
	  "reply": {"success": {"format": "empty"}, "failure": {"format": "empty"}}
	}`
	m := mustCompile(t, src, Config{})
	v, err := run(m, req{target: "/2010-04-01/Accounts/AC1/Messages.json", contentType: "application/x-www-form-urlencoded", body: "To=1"}, Route{Channel: "voice", Account: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "POST /2010-04-01/Accounts/AC1/Messages.json form .json application/x-www-form-urlencoded"; v.Field("meta") != want {
		t.Errorf("meta = %q, want %q", v.Field("meta"), want)
	}
	if v.Field("routed") != "voice eu" || v.Route().Channel != "voice" {
		t.Errorf("routed = %q", v.Field("routed"))
	}
	if v.Field("nope") != "" || (*Values)(nil).Field("to") != "" {
		t.Error("unknown fields must read empty")
	}
}

func TestQueryParsedOnce(t *testing.T) {
	in := &Inbound{RawQuery: "a=1&a=%zz"}
	if in.Query().Get("a") != "1" || in.Query() == nil {
		t.Error("Query")
	}
	in = &Inbound{RawQuery: ";;;"}
	if in.Query() == nil {
		t.Error("Query must never be nil")
	}
	_ = http.MethodGet
}
