package simulator

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/twilioapi"
)

// Paging of the list operations, as on Twilio.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// The paging envelope of the 2010 API, in the order Twilio writes it.
type messageListJSON struct {
	FirstPageURI    string         `json:"first_page_uri"`
	End             int            `json:"end"`
	PreviousPageURI *string        `json:"previous_page_uri"`
	Messages        []*messageJSON `json:"messages"`
	URI             string         `json:"uri"`
	PageSize        int            `json:"page_size"`
	Start           int            `json:"start"`
	NextPageURI     *string        `json:"next_page_uri"`
	Page            int            `json:"page"`
}

type callListJSON struct {
	FirstPageURI    string      `json:"first_page_uri"`
	End             int         `json:"end"`
	PreviousPageURI *string     `json:"previous_page_uri"`
	Calls           []*callJSON `json:"calls"`
	URI             string      `json:"uri"`
	PageSize        int         `json:"page_size"`
	Start           int         `json:"start"`
	NextPageURI     *string     `json:"next_page_uri"`
	Page            int         `json:"page"`
}

// listAttrs are the paging attributes of a list in XML (<Messages page="0" ...>).
type listAttrs struct {
	Page            int    `xml:"page,attr"`
	PageSize        int    `xml:"pagesize,attr"`
	Start           int    `xml:"start,attr"`
	End             int    `xml:"end,attr"`
	URI             string `xml:"uri,attr"`
	FirstPageURI    string `xml:"firstpageuri,attr"`
	PreviousPageURI string `xml:"previouspageuri,attr"`
	NextPageURI     string `xml:"nextpageuri,attr"`
}

type messageListXML struct {
	XMLName xml.Name `xml:"Messages"`
	listAttrs
	Items []*messageXML
}

type callListXML struct {
	XMLName xml.Name `xml:"Calls"`
	listAttrs
	Items []*callXML
}

// listRequest is a parsed list query.
type listRequest struct {
	query       url.Values
	filterNames []string // the filters of the operation, in the spec's order
	page, size  int
	token       string
}

// parseList reads PageSize (1-1000, default 50), Page and PageToken.
func parseList(x *exchange, params []twilioapi.Param) (listRequest, answer, bool) {
	q := x.req.URL.Query()
	lr := listRequest{query: q, size: defaultPageSize, token: q.Get("PageToken")}
	for _, p := range params {
		switch p.Name {
		case "PageSize", "Page", "PageToken":
		default:
			lr.filterNames = append(lr.filterNames, p.Name)
		}
	}
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return lr, invalid(20001, "Invalid PageSize "+v), false
		}
		lr.size = min(n, maxPageSize)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lr, invalid(20001, "Invalid Page "+v), false
		}
		lr.page = n
	}
	return lr, answer{}, true
}

// window returns the part of sids (newest first) on the requested page. A PageToken
// "PA<sid>" starts after sid, "PB<sid>" ends before it; without a token (or with one
// naming nothing) the page starts at Page × PageSize.
func (lr listRequest) window(sids []string) (from, to int) {
	from = lr.page * lr.size
	if len(lr.token) > 2 {
		if i := slices.Index(sids, lr.token[2:]); i >= 0 {
			switch lr.token[:2] {
			case "PA":
				from = i + 1
			case "PB":
				from = max(0, i-lr.size)
			}
		}
	}
	from = min(from, len(sids))
	return from, min(from+lr.size, len(sids))
}

// uri renders the list URI of page with the request's filters, in the spec's order.
func (lr listRequest) uri(base string, page int, token string) string {
	var b strings.Builder
	b.WriteString(base)
	sep := byte('?')
	add := func(k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	for _, name := range lr.filterNames {
		if v, ok := lr.query[name]; ok && len(v) > 0 {
			add(name, v[0])
		}
	}
	add("PageSize", strconv.Itoa(lr.size))
	add("Page", strconv.Itoa(page))
	if token != "" {
		add("PageToken", token)
	}
	return b.String()
}

// envelope is the paging part of an answer, in both formats.
type envelope struct {
	first, uri, prev, next string
	page, size, start, end int
}

func (lr listRequest) envelope(base string, sids []string, from, to int) envelope {
	e := envelope{
		first: lr.uri(base, 0, ""), uri: lr.uri(base, lr.page, lr.token),
		page: lr.page, size: lr.size, start: lr.page * lr.size,
	}
	e.end = e.start
	if to > from {
		e.end = e.start + to - from - 1
	}
	if to < len(sids) && to > from {
		e.next = lr.uri(base, lr.page+1, "PA"+sids[to-1])
	}
	if lr.page > 0 && from < len(sids) {
		e.prev = lr.uri(base, lr.page-1, "PB"+sids[from])
	}
	return e
}

func (e envelope) attrs() listAttrs {
	return listAttrs{Page: e.page, PageSize: e.size, Start: e.start, End: e.end, URI: e.uri,
		FirstPageURI: e.first, PreviousPageURI: e.prev, NextPageURI: e.next}
}

// listBase is the path a list's URIs start with: .json in JSON, no extension in XML.
func listBase(x *exchange, resource string) string {
	base := "/2010-04-01/Accounts/" + x.acc.sid + "/" + resource
	if x.route.format == formatJSON {
		base += ".json"
	}
	return base
}

// dateFilter is one of the date filters (DateSent, DateSent<, DateSent>, StartTime...).
type dateFilter struct {
	t       time.Time
	op      byte // '=', '<' (on or before), '>' (on or after)
	dayOnly bool
}

// parseDateFilters reads name, name< and name>; a value is a date (YYYY-MM-DD) or an
// ISO 8601 date-time.
func parseDateFilters(q url.Values, name string) ([]dateFilter, answer, bool) {
	var out []dateFilter
	for _, op := range []byte{'=', '<', '>'} {
		key := name
		if op != '=' {
			key += string(op)
		}
		v := q.Get(key)
		if v == "" {
			continue
		}
		f := dateFilter{op: op}
		var err error
		if f.t, err = time.Parse("2006-01-02", v); err == nil {
			f.dayOnly = true
		} else if f.t, err = time.Parse(time.RFC3339, v); err != nil {
			if f.t, err = time.Parse("2006-01-02T15:04:05", v); err != nil {
				return nil, invalid(20001, "Invalid "+key+" "+v+": use YYYY-MM-DD or an ISO 8601 date-time"), false
			}
		}
		out = append(out, f)
	}
	return out, answer{}, true
}

// match reports whether at (zero = never) passes the filters. "=" compares UTC days;
// "<" and ">" include the bound, a whole day for a date.
func matchDates(filters []dateFilter, at time.Time) bool {
	for _, f := range filters {
		if at.IsZero() {
			return false
		}
		at := at.UTC()
		switch {
		case f.op == '=':
			if at.Format("2006-01-02") != f.t.UTC().Format("2006-01-02") {
				return false
			}
		case f.op == '<' && f.dayOnly:
			if !at.Before(f.t.Add(24 * time.Hour)) {
				return false
			}
		case f.op == '<':
			if at.After(f.t) {
				return false
			}
		case f.op == '>':
			if at.Before(f.t) {
				return false
			}
		}
	}
	return true
}

// listMessages answers ListMessage: the account's messages, newest first, filtered by To,
// From and DateSent (=, <, >), one page at a time.
func (s *Simulator) listMessages(x *exchange) answer {
	lr, a, ok := parseList(x, twilioapi.MessageListParams)
	if !ok {
		return a
	}
	dates, a, ok := parseDateFilters(lr.query, "DateSent")
	if !ok {
		return a
	}
	to, from := lr.query.Get("To"), lr.query.Get("From")
	now := time.Now()
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	var matches []*message
	s.store.newestFirst(func(sid string) bool {
		m := s.store.messages[sid]
		if m == nil || m.account != x.acc.sid || to != "" && m.to != to || from != "" && m.effectiveFrom(now) != from {
			return true
		}
		sent, _ := stepAt(m.steps, "sent", now)
		if matchDates(dates, sent) {
			matches = append(matches, m)
		}
		return true
	})
	sids := make([]string, len(matches))
	for i, m := range matches {
		sids[i] = m.sid
	}
	lo, hi := lr.window(sids)
	e := lr.envelope(listBase(x, "Messages"), sids, lo, hi)
	j := &messageListJSON{FirstPageURI: e.first, End: e.end, PreviousPageURI: nullable(e.prev), Messages: []*messageJSON{},
		URI: e.uri, PageSize: e.size, Start: e.start, NextPageURI: nullable(e.next), Page: e.page}
	xl := &messageListXML{listAttrs: e.attrs()}
	for _, m := range matches[lo:hi] {
		j.Messages = append(j.Messages, m.json(now))
		xl.Items = append(xl.Items, m.xml(now))
	}
	return answer{status: http.StatusOK, accepted: true, json: j, xml: xl}
}

// listCalls answers ListCall: the account's calls, newest first, filtered by To, From,
// ParentCallSid, Status, StartTime and EndTime (=, <, >), one page at a time.
func (s *Simulator) listCalls(x *exchange) answer {
	lr, a, ok := parseList(x, twilioapi.CallListParams)
	if !ok {
		return a
	}
	starts, a, ok := parseDateFilters(lr.query, "StartTime")
	if !ok {
		return a
	}
	ends, a, ok := parseDateFilters(lr.query, "EndTime")
	if !ok {
		return a
	}
	q := lr.query
	to, from, status, parent := q.Get("To"), q.Get("From"), q.Get("Status"), q.Get("ParentCallSid")
	now := time.Now()
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	var matches []*call
	s.store.newestFirst(func(sid string) bool {
		c := s.store.calls[sid]
		if c == nil || c.account != x.acc.sid || to != "" && c.to != to || from != "" && c.from != from || parent != "" {
			return true // the simulator's calls have no parent
		}
		cur := c.steps[current(c.steps, now)]
		if status != "" && cur.status != status {
			return true
		}
		started, _ := stepAt(c.steps, "in-progress", now)
		var ended time.Time
		if finalStatus(cur.status) {
			ended = cur.at
		}
		if matchDates(starts, started) && matchDates(ends, ended) {
			matches = append(matches, c)
		}
		return true
	})
	sids := make([]string, len(matches))
	for i, c := range matches {
		sids[i] = c.sid
	}
	lo, hi := lr.window(sids)
	e := lr.envelope(listBase(x, "Calls"), sids, lo, hi)
	j := &callListJSON{FirstPageURI: e.first, End: e.end, PreviousPageURI: nullable(e.prev), Calls: []*callJSON{},
		URI: e.uri, PageSize: e.size, Start: e.start, NextPageURI: nullable(e.next), Page: e.page}
	xl := &callListXML{listAttrs: e.attrs()}
	for _, c := range matches[lo:hi] {
		j.Calls = append(j.Calls, c.json(now))
		xl.Items = append(xl.Items, c.xml(now))
	}
	return answer{status: http.StatusOK, accepted: true, json: j, xml: xl}
}
