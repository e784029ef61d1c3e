package delivery

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// DashboardMetrics returns the metric names a Grafana dashboard's PromQL
// references, sorted and without repeats: every panel target's expr (rows'
// nested panels included) and every Prometheus template variable's query
// (label_values(metric, label) names metric; query_result(expr) is read as
// PromQL). Names are as written: a histogram's series keep their _bucket,
// _sum or _count suffix. Label names, functions, aggregation keywords,
// strings, numbers, durations and Grafana variables ($route,
// $__rate_interval) are not metric names.
func DashboardMetrics(dashboard []byte) ([]string, error) {
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Rows       []json.RawMessage `json:"rows"` // the old schema
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, err
	}
	if d.Panels == nil && d.Rows == nil {
		return nil, errors.New("delivery: not a Grafana dashboard (no panels)")
	}
	seen := map[string]bool{}
	var walk func(raw []json.RawMessage) error
	walk = func(raw []json.RawMessage) error {
		for _, r := range raw {
			var p struct {
				Panels  []json.RawMessage `json:"panels"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			}
			if err := json.Unmarshal(r, &p); err != nil {
				return err
			}
			for _, t := range p.Targets {
				for _, n := range PromQLMetrics(t.Expr) {
					seen[n] = true
				}
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	if err := walk(d.Rows); err != nil {
		return nil, err
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" || len(v.Query) == 0 {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				return nil, err
			}
			q = obj.Query
		}
		for _, n := range variableMetrics(q) {
			seen[n] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// variableMetrics reads a Prometheus template variable's query.
func variableMetrics(q string) []string {
	q = strings.TrimSpace(q)
	switch {
	case strings.HasPrefix(q, "label_values(") && strings.HasSuffix(q, ")"):
		args := q[len("label_values(") : len(q)-1]
		i := strings.LastIndexByte(args, ',')
		if i < 0 {
			return nil // label_values(label): no metric
		}
		return PromQLMetrics(args[:i])
	case strings.HasPrefix(q, "query_result(") && strings.HasSuffix(q, ")"):
		return PromQLMetrics(q[len("query_result(") : len(q)-1])
	case strings.HasPrefix(q, "metrics(") || strings.HasPrefix(q, "label_names("):
		return nil
	}
	return PromQLMetrics(q)
}

// promqlKeywords are identifiers PromQL reads as operators, modifiers or
// aggregations, never as metric names.
var promqlKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "offset": true, "and": true, "or": true, "unless": true, "atan2": true,
	"inf": true, "nan": true, "start": true, "end": true,
	// aggregations, which may be followed by by (…) or without (…) first
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// labelListKeywords are followed by a parenthesized list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// PromQLMetrics returns the metric names a PromQL expression (with Grafana
// variables) selects, in order of first appearance, without repeats: the
// identifiers that are not followed by "(" (functions, aggregations), not
// keywords, not inside a label matcher {…}, a range […], a string or a
// by/without/on/ignoring/group_left/group_right label list. A selector
// written {__name__="x"} is not read.
func PromQLMetrics(expr string) []string {
	var out []string
	seen := map[string]bool{}
	s := expr
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipTo(s, i, '{', '}')
		case c == '[':
			if strings.HasPrefix(s[i:], "[[") { // Grafana's old [[variable]]
				if j := strings.Index(s[i:], "]]"); j >= 0 {
					i += j + 2
					continue
				}
			}
			i = skipTo(s, i, '[', ']')
		case c == '#':
			for i < n && s[i] != '\n' {
				i++
			}
		case c == '$':
			i++
			if i < n && s[i] == '{' {
				i = skipTo(s, i, '{', '}')
				continue
			}
			for i < n && isIdent(s[i]) {
				i++
			}
		case c >= '0' && c <= '9' || (c == '.' && i+1 < n && s[i+1] >= '0' && s[i+1] <= '9'):
			for i < n && (isIdent(s[i]) || s[i] == '.' || ((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < n && isIdent(s[j]) {
				j++
			}
			word := s[i:j]
			k := j
			for k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r') {
				k++
			}
			switch {
			case labelListKeywords[strings.ToLower(word)] && k < n && s[k] == '(':
				i = skipTo(s, k, '(', ')')
				continue
			case k < n && s[k] == '(':
			case promqlKeywords[strings.ToLower(word)]:
			default:
				if !seen[word] {
					seen[word] = true
					out = append(out, word)
				}
			}
			i = j
		default:
			i++
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return len(s)
}

// skipTo returns the index after the close matching the open at i, skipping
// strings and nested pairs.
func skipTo(s string, i int, open, close byte) int {
	depth := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(s)
}
